"""The IO manager for assets that return a frame of trading-day partitioned rows.

A thin wrapper over :class:`~finks_assets.lib.lake.writer.LakeWriter`: the asset ``[layer,
dataset]`` returns one frame with a ``trade_date`` column for every partition of the run, and
each partition is replaced whole (and registered in Glue in aws mode) by the writer. Assets that
write their partitions themselves (silver 1-minute bars, FMP reference tables) need no IO
manager. Nothing loads lake tables as Dagster inputs: dbt and DuckDB read them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from finks_assets.lib.resources.lake import LakeResource

if TYPE_CHECKING:
    import pandas as pd


class LakeParquetIOManager(dg.ConfigurableIOManager):
    """Whole-partition Parquet writes under ``<layer>/<dataset>/trade_date=YYYY-MM-DD/``."""

    lake: LakeResource

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        layer, dataset = context.asset_key.path
        written = self.lake.writer().write_partitions(
            layer, dataset, obj, context.asset_partition_keys)
        context.add_output_metadata({
            "partitions_written": len(written.rows),
            "path": dg.MetadataValue.path(self.lake.store().uri(f"{layer}/{dataset}")),
        })

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        raise NotImplementedError(
            f"{context.asset_key.to_user_string()} is read by dbt/DuckDB, not loaded as an input")
