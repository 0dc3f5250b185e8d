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
from finks_assets.checks.bar_checks import (
    check_in_session,
    check_ohlc_invariants,
    check_unique_ticker_ts,
    session_completeness,
)
from finks_assets.lake.layout import bronze_partition_dir
from finks_assets.lake.store import LakeStore
from finks_assets.partitions import SINGLE_RUN, partition_dates, trading_days
from finks_assets.resources.lake import LakeResource
from finks_assets.resources.market_data import MarketDataResource
from finks_assets.sources.base import BarSource
from finks_assets.transforms.silver_bars import SilverResult, clean_bars, empty_canonical

SILVER_BARS = dg.AssetKey(["silver", "bars_1m"])
SILVER_QUARANTINE = dg.AssetKey(["silver", "bars_1m_quarantine"])

BLOCKING_CHECKS = {
    "ohlc_invariants": "high >= max(open, close), low <= min(open, close), prices > 0, volume >= 0",
    "unique_ticker_ts": "no duplicate (ticker, ts)",
    "bars_in_session": "every bar starts inside its XNYS session, half days included",
}


def read_bronze_bars(store: LakeStore, source: BarSource, days: list[dt.date]) -> pd.DataFrame:
    """All bronze payloads of ``source`` for ``days``, mapped to canonical columns."""
    frames = []
    for day in days:
        for path in store.list_parquet(bronze_partition_dir(source.name, BARS_DATASET, day)):
            raw = store.read_parquet(path).to_pandas()
            if raw.empty:
                continue
            bars = source.to_canonical(raw)
            bars["source"] = source.name
            bars["ingested_at"] = pd.to_datetime(raw["_fetched_at"], utc=True).to_numpy()
            bars["trade_date"] = day
            frames.append(bars)
    return pd.concat(frames, ignore_index=True) if frames else empty_canonical()


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
    check_specs=[
        dg.AssetCheckSpec(name, asset=SILVER_BARS, description=text, blocking=True)
        for name, text in BLOCKING_CHECKS.items()
    ]
    + [
        dg.AssetCheckSpec(
            "session_completeness", asset=SILVER_BARS,
            description="Each ticker has a bar for every minute of each session (WARN).",
        )
    ],
    partitions_def=trading_days,
    backfill_policy=SINGLE_RUN,
    can_subset=False,
)
def silver_bars_1m(
    context: dg.AssetExecutionContext, market_data: MarketDataResource, lake: LakeResource
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
    yield dg.Output(
        result.bars,
        output_name="bars",
        metadata={
            "bronze_rows": len(bronze),
            "superseded_rows": result.superseded,
            "tickers": int(result.bars["ticker"].nunique()),
        },
    )
    yield dg.Output(
        result.quarantine,
        output_name="quarantine",
        metadata={"by_reason": dg.MetadataValue.json(result.quarantine_counts())},
    )
    yield from silver_check_results(result, days)


def silver_check_results(result: SilverResult, days: list[dt.date]):
    outcomes = {
        "ohlc_invariants": check_ohlc_invariants(result.bars),
        "unique_ticker_ts": check_unique_ticker_ts(result.bars),
        "bars_in_session": check_in_session(result.bars, days),
    }
    for name, outcome in outcomes.items():
        yield dg.AssetCheckResult(
            asset_key=SILVER_BARS, check_name=name, passed=outcome.passed,
            severity=dg.AssetCheckSeverity.ERROR, metadata=outcome.metadata,
        )
    coverage = session_completeness(result.bars, days)
    short = coverage[coverage["coverage"] < 1.0]
    yield dg.AssetCheckResult(
        asset_key=SILVER_BARS, check_name="session_completeness", passed=short.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "ticker_sessions": len(coverage),
            "incomplete_ticker_sessions": len(short),
            "worst": dg.MetadataValue.md(short.head(20).to_markdown(index=False))
            if not short.empty else "every ticker complete",
        },
    )
