"""End-of-day compaction of the day's micro-batches into silver, as a partitioned asset.

The work is :func:`finks_assets.lib.stream.compaction.compact_day` (the same bronze reader,
silver transform and quality gate as the batch silver asset). The asset records the silver
and quarantine partitions it rewrote as materializations of those assets, so lineage and
gold's staleness see the new silver day; a day the gate holds fails the run and keeps the
micro-batches.
"""


import dagster as dg

from finks_assets.defs.bars_1m.silver import SILVER_BARS, SILVER_QUARANTINE
from finks_assets.lib.partitions import partition_dates, trading_days
from finks_assets.lib.quality.thresholds import QualityResource
from finks_assets.lib.resources.lake import LakeResource
from finks_assets.lib.resources.market_data import MarketDataResource
from finks_assets.lib.stream.compaction import compact_day, read_silver_day, silver_digest

STREAM_COMPACTION = dg.AssetKey(["stream", "bars_1m_compaction"])
LIVE_BARS = dg.AssetKey(["stream", "live_bars"])


@dg.asset(
    key=STREAM_COMPACTION,
    deps=[LIVE_BARS],
    group_name="stream",
    partitions_def=trading_days,
    kinds={"duckdb", "parquet"},
    description="After the close: the day's stream micro-batches compacted into silver "
                "(one file, sorted by ticker and ts, same cleaning and gate as batch data).",
)
def stream_bars_1m_compaction(
    context: dg.AssetExecutionContext, market_data: MarketDataResource, lake: LakeResource,
    quality: QualityResource,
) -> dg.MaterializeResult:
    store, writer = lake.store(), lake.writer()
    metadata: dict[str, object] = {}
    for day in partition_dates(context):
        result = compact_day(store, writer, market_data.bar_source(), day, quality.bars_1m)
        if result.status == "held":
            raise dg.Failure(f"stream compaction {day}: the silver gate holds the day "
                             f"{result.held}; micro-batches kept",
                             metadata={"held": dg.MetadataValue.json(result.held)})
        key = day.isoformat()
        metadata[key] = dg.MetadataValue.json({
            "status": result.status, "micro_batches": result.micro_batches,
            "stream_rows": result.stream_rows, "silver_rows": result.silver_rows,
            "quarantine_rows": result.quarantine_rows, "removed": result.removed})
        context.log.info(f"stream compaction {key}: {result.status}, {result.micro_batches} "
                         f"micro-batches -> {result.silver_rows} silver rows")
        if result.status == "compacted":
            digest = silver_digest(read_silver_day(store, day))
            context.log_event(dg.AssetMaterialization(
                asset_key=SILVER_BARS, partition=key,
                metadata={"dagster/row_count": result.silver_rows, "digest": digest,
                          "written_by": "stream compaction"}))
            context.log_event(dg.AssetMaterialization(
                asset_key=SILVER_QUARANTINE, partition=key,
                metadata={"dagster/row_count": result.quarantine_rows}))
    return dg.MaterializeResult(metadata=metadata)
