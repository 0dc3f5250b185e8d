"""Silver: typed, deduplicated, session-aligned 1-minute bars plus their quarantine.

Silver is rebuilt for each partition from *all* bronze payloads of that trading day, so a
run that fetched only some tickers (a backfill by ticker) merges into the partition instead
of replacing it, and re-running gives the same rows. The blocking checks re-verify the output
before any gold model may read it.

A run's days are processed in chunks (``sessions_per_chunk`` of run config), each written to
the lake as soon as it is checked, so a year-long single-run backfill needs the memory of a
chunk, not of the year (see :mod:`finks_assets.assets.silver_chunks`). The outputs handed to
the IO manager are therefore descriptions of what was written, not frames.
"""


import dagster as dg

from finks_assets.assets.silver_chunks import SilverChunking, build_silver
from finks_assets.partitions import SINGLE_RUN, partition_dates, trading_days
from finks_assets.quality.silver_gate import SILVER_CHECK_SPECS, silver_check_results
from finks_assets.quality.thresholds import QualityResource
from finks_assets.resources.lake import LakeResource
from finks_assets.resources.market_data import MarketDataResource
from finks_assets.transforms.silver_bars import clean_bars

SILVER_BARS = dg.AssetKey(["silver", "bars_1m"])
SILVER_QUARANTINE = dg.AssetKey(["silver", "bars_1m_quarantine"])


@dg.multi_asset(
    outs={
        "bars": dg.AssetOut(
            key=SILVER_BARS, group_name="silver", kinds={"duckdb", "parquet"},
            description="Typed 1-minute bars: UTC bar start, deduplicated on (ticker, ts), in session.",
        ),
        "quarantine": dg.AssetOut(
            key=SILVER_QUARANTINE, group_name="silver", kinds={"duckdb", "parquet"},
            description="Bars rejected from silver, each with the reason it was rejected.",
        ),
    },
    deps=[dg.AssetKey(["bronze", "bars_1m"])],
    check_specs=SILVER_CHECK_SPECS,
    partitions_def=trading_days,
    backfill_policy=SINGLE_RUN,
    can_subset=False,
)
def silver_bars_1m(
    context: dg.AssetExecutionContext,
    config: SilverChunking,
    market_data: MarketDataResource,
    lake: LakeResource,
    quality: QualityResource,
):
    days = partition_dates(context)
    run = build_silver(
        context, lake.store(), market_data.bar_source(), days, quality.bars_1m,
        config.sessions_per_chunk, clean=clean_bars,
    )
    yield dg.Output(
        run.bars,
        output_name="bars",
        metadata={
            "bronze_rows": run.bronze_rows,
            "superseded_rows": run.superseded,
            "tickers": len(run.tickers),
            **run.gate.asset_metadata,
        },
    )
    yield dg.Output(
        run.quarantine,
        output_name="quarantine",
        metadata={"by_reason": dg.MetadataValue.json(dict(run.quarantine_counts))},
    )
    yield from silver_check_results(run.gate, days)
