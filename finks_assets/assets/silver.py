"""Silver: typed, deduplicated, session-aligned 1-minute bars plus their quarantine.

Silver is rebuilt for each partition from *all* bronze payloads of that trading day, so a
run that fetched only some tickers (a backfill by ticker) merges into the partition instead
of replacing it, and re-running gives the same rows. The blocking checks re-verify the output
before any gold model may read it.
"""


import datetime as dt

import dagster as dg
import pandas as pd

from finks_assets.assets.bronze import BARS_DATASET
from finks_assets.lake.landing import landing_partition_dir
from finks_assets.lake.layout import bronze_partition_dir
from finks_assets.lake.store import LakeStore
from finks_assets.partitions import SINGLE_RUN, partition_dates, trading_days
from finks_assets.quality.silver_gate import (
    SILVER_CHECK_SPECS,
    silver_check_results,
    silver_quality_metadata,
)
from finks_assets.quality.thresholds import QualityResource
from finks_assets.resources.lake import LakeResource
from finks_assets.resources.market_data import MarketDataResource
from finks_assets.sources.base import BarSource
from finks_assets.transforms.silver_bars import canonical_from_bronze, clean_bars

SILVER_BARS = dg.AssetKey(["silver", "bars_1m"])
SILVER_QUARANTINE = dg.AssetKey(["silver", "bars_1m_quarantine"])

def read_bronze_bars(store: LakeStore, source: BarSource, days: list[dt.date]) -> pd.DataFrame:
    """All bronze payloads of ``source`` for ``days``, mapped to canonical columns.

    Files are read as Arrow and mapped in one pass for the whole window (see
    ``canonical_from_bronze``), not converted to pandas one by one.
    """
    tables, file_days = [], []
    for day in days:
        # Finks' own fetches, then payloads a vendor or person dropped under landing/ (S3 sensor).
        dirs = (bronze_partition_dir(source.name, BARS_DATASET, day),
                landing_partition_dir(source.name, BARS_DATASET, day))
        for path in [found for d in dirs for found in store.list_parquet(d)]:
            table = store.read_parquet(path)
            if table.num_rows:
                tables.append(table)
                file_days.append(day)
    return canonical_from_bronze(source, tables, file_days)


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
    market_data: MarketDataResource,
    lake: LakeResource,
    quality: QualityResource,
):
    days = partition_dates(context)
    source = market_data.bar_source()
    bronze = read_bronze_bars(lake.store(), source, days)
    result = clean_bars(bronze, days)
    context.log.info(
        f"silver {days[0]}..{days[-1]}: {len(bronze)} bronze rows -> {len(result.bars)} bars, "
        f"{len(result.quarantine)} quarantined {result.quarantine_counts()}, "
        f"{result.superseded} superseded by a newer fetch"
    )
    gate = silver_quality_metadata(result, days, lake.store(), quality.bars_1m)
    yield dg.Output(
        result.bars,
        output_name="bars",
        metadata={
            "bronze_rows": len(bronze),
            "superseded_rows": result.superseded,
            "tickers": int(result.bars["ticker"].nunique()),
            **gate.asset_metadata,
        },
    )
    yield dg.Output(
        result.quarantine,
        output_name="quarantine",
        metadata={"by_reason": dg.MetadataValue.json(result.quarantine_counts())},
    )
    yield from silver_check_results(gate, days)
