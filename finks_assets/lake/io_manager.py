"""An IO manager for trading-day partitioned tables stored as Parquet in the lake.

Assets hand it one frame covering every partition of the run (single-run backfills) with a
``trade_date`` column; it writes each partition as a whole, replacing what was there, so a
re-run never duplicates rows. A partition with no rows (an exchange holiday) is still written
as an empty file: "materialized, market closed" is different from "never materialized".
"""


import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa

from finks_assets.lake.layout import dataset_partition_dir, trade_date_key
from finks_assets.resources.catalog import GlueCatalogResource
from finks_assets.resources.lake import LakeResource


def _rows_by_partition(trade_dates: pd.Series) -> dict[str, np.ndarray]:
    """Row positions per ``YYYY-MM-DD`` key, in row order: one sort, not one mask per day.

    A backfill hands over hundreds of days in one frame, so a boolean mask per partition would
    cost O(days x rows).
    """
    codes, uniques = pd.factorize(pd.to_datetime(trade_dates), sort=False)
    if (codes < 0).any():
        raise ValueError(f"{int((codes < 0).sum())} row(s) have no trade_date")
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    return {
        pd.Timestamp(day).date().isoformat(): order[bounds[i]:bounds[i + 1]]
        for i, day in enumerate(uniques)
    }


def _layer_and_dataset(asset_key: dg.AssetKey) -> tuple[str, str]:
    if len(asset_key.path) != 2:
        raise ValueError(f"lake assets are keyed [layer, dataset]; got {asset_key.to_user_string()}")
    return asset_key.path[0], asset_key.path[1]


class LakeParquetIOManager(dg.ConfigurableIOManager):
    """Whole-partition Parquet writes under ``<layer>/<dataset>/trade_date=YYYY-MM-DD/``."""

    lake: LakeResource
    catalog: GlueCatalogResource  # aws mode: written partitions are added to Glue for Athena

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        layer, dataset = _layer_and_dataset(context.asset_key)
        store = self.lake.store()
        keys = [trade_date_key(k) for k in context.asset_partition_keys]
        positions = _rows_by_partition(obj["trade_date"])
        unexpected = sorted(set(positions) - set(keys))
        if unexpected:
            raise ValueError(
                f"{context.asset_key.to_user_string()} produced rows for trade dates outside the "
                f"run's partitions: {unexpected[:5]}"
            )
        # One conversion for the whole run: an empty day keeps the real column types too.
        table = pa.Table.from_pandas(obj.drop(columns=["trade_date"]), preserve_index=False)
        rows_per_partition: dict[str, int] = {}
        for key in keys:
            rows = positions.get(key)
            part = table.take(rows) if rows is not None else table.slice(0, 0)
            store.replace_partition(dataset_partition_dir(layer, dataset, key), part)
            rows_per_partition[key] = part.num_rows
        registered = self.catalog.register_partitions(layer, dataset, table.schema, keys)
        context.add_output_metadata(
            {
                "rows": int(len(obj)),
                "glue_partitions_added": registered,
                "partitions_written": len(keys),
                "empty_partitions": sum(1 for n in rows_per_partition.values() if n == 0),
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
