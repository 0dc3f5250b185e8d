"""An IO manager for trading-day partitioned tables stored as Parquet in the lake.

Assets hand it one frame covering every partition of the run (single-run backfills) with a
``trade_date`` column; it writes each partition as a whole, replacing what was there, so a
re-run never duplicates rows. A partition with no rows (an exchange holiday) is still written
as an empty file: "materialized, market closed" is different from "never materialized".

An asset that wrote its partitions itself, chunk by chunk to bound memory (silver), hands over
a :class:`~finks_assets.lake.partition_writes.WrittenPartitions` instead: nothing is written
again, the partitions are only registered and described.
"""


import datetime as dt

import dagster as dg
import pandas as pd

from finks_assets.lake.layout import dataset_partition_dir, trade_date_key
from finks_assets.lake.partition_writes import WrittenPartitions, write_partitions
from finks_assets.resources.catalog import GlueCatalogResource
from finks_assets.resources.lake import LakeResource


def _layer_and_dataset(asset_key: dg.AssetKey) -> tuple[str, str]:
    if len(asset_key.path) != 2:
        raise ValueError(f"lake assets are keyed [layer, dataset]; got {asset_key.to_user_string()}")
    return asset_key.path[0], asset_key.path[1]


class LakeParquetIOManager(dg.ConfigurableIOManager):
    """Whole-partition Parquet writes under ``<layer>/<dataset>/trade_date=YYYY-MM-DD/``."""

    lake: LakeResource
    catalog: GlueCatalogResource  # aws mode: written partitions are added to Glue for Athena

    def handle_output(
        self, context: dg.OutputContext, obj: pd.DataFrame | WrittenPartitions
    ) -> None:
        """Write a frame's partitions, or take note of partitions the asset wrote itself.

        Either way every partition of the run is registered in Glue (aws mode) and described
        by the same output metadata.
        """
        layer, dataset = _layer_and_dataset(context.asset_key)
        store = self.lake.store()
        keys = [trade_date_key(k) for k in context.asset_partition_keys]
        if isinstance(obj, WrittenPartitions):
            missing = sorted(set(keys) - set(obj.rows))
            if missing or obj.schema is None:
                raise ValueError(
                    f"{context.asset_key.to_user_string()} reported written partitions without "
                    f"a schema or missing some of the run's partitions: {missing[:5]}"
                )
            written = obj
        else:
            written = write_partitions(store, layer, dataset, obj, keys)
        registered = self.catalog.register_partitions(layer, dataset, written.schema, keys)
        context.add_output_metadata(
            {
                "rows": sum(written.rows[k] for k in keys),
                "glue_partitions_added": registered,
                "partitions_written": len(keys),
                "empty_partitions": sum(1 for k in keys if written.rows[k] == 0),
                "path": dg.MetadataValue.path(store.uri(f"{layer}/{dataset}")),
            }
        )

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        layer, dataset = _layer_and_dataset(context.asset_key)
        store = self.lake.store()
        frames = []
        for key in context.asset_partition_keys:
            for path in store.list_parquet(dataset_partition_dir(layer, dataset, key)):
                frame = store.read_parquet(path).to_pandas()
                frame["trade_date"] = dt.date.fromisoformat(trade_date_key(key))
                frames.append(frame)
        if not frames:
            return pd.DataFrame({"trade_date": pd.Series([], dtype="object")})
        return pd.concat(frames, ignore_index=True)
