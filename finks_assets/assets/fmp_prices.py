"""FMP end-of-day prices: bronze (raw JSON per ticker and run window) and ``silver/bars_1d``.

``silver/bars_1d`` holds daily bars in the silver bar schema (``source = 'fmp'``, plus FMP's
vwap). With ``FINKS_SOURCE=fmp`` the daily job runs this path instead of the 1-minute one and
dbt's ``fct_daily_bars`` reads it (var ``daily_bars_from = 'bars_1d'``); with another source it
is the reference the reconciliation check compares the 1-minute rollup with.
"""


import dagster as dg
import pandas as pd

from finks_assets import market_calendar
from finks_assets.assets.bronze import AUDIT_COLUMNS, UniverseResource, write_audit
from finks_assets.assets.config import TickerSelection
from finks_assets.assets.fmp_lake import (
    EOD_DATASET,
    SOURCE,
    eod_bronze_dir,
    eod_windows_overlapping,
    read_json_files,
    write_json,
)
from finks_assets.assets.fmp_outcomes import (
    check_spec,
    failure_status,
    fetch_each,
    outcome_metadata,
)
from finks_assets.lake.layout import fetch_id
from finks_assets.partitions import SINGLE_RUN, partition_dates, trading_days
from finks_assets.resources.fmp import FmpResource
from finks_assets.resources.lake import LakeResource
from finks_assets.sources.fmp.parse import BARS_1D_COLUMNS, eod_bars

BRONZE_FMP_EOD = dg.AssetKey(["bronze", "fmp_eod"])
SILVER_BARS_1D = dg.AssetKey(["silver", "bars_1d"])


@dg.asset(
    key=BRONZE_FMP_EOD, group_name="bronze", partitions_def=trading_days,
    backfill_policy=SINGLE_RUN, kinds={"python", "json"},
    check_specs=[check_spec(BRONZE_FMP_EOD)],
    description="FMP /stable/historical-price-eod/full answers, raw JSON bytes, append-only.",
)
def bronze_fmp_eod(context: dg.AssetExecutionContext, config: TickerSelection, fmp: FmpResource,
                   lake: LakeResource, universe: UniverseResource):
    tickers = config.resolve(universe.tickers)
    days = partition_dates(context)
    first, last = min(days), max(days)
    store = lake.store()
    with fmp.client() as client:
        payloads, failures = fetch_each(
            tickers, lambda t: client.historical_price_eod(t, first, last), context.log)
    fetched_at = pd.Timestamp.now(tz="UTC")
    records = []
    for ticker in tickers:
        payload = payloads.get(ticker)
        if payload is not None:
            write_json(store, eod_bronze_dir(first, last, ticker), payload.fetched_at,
                       context.run_id, payload.raw)
            dates = {r.get("date") for r in payload.data}
        for day in days:
            base = {"run_id": context.run_id, "source": SOURCE, "dataset": EOD_DATASET,
                    "trade_date": day, "ticker": ticker, "duplicate_rows": 0,
                    "first_ts": None, "last_ts": None, "fetched_at": fetched_at,
                    "rows_received": 0, "error": None}
            if not market_calendar.is_session(day):
                records.append({**base, "status": "market_closed"})
            elif ticker in failures:
                records.append({**base, "status": failure_status(failures[ticker]),
                                "error": failures[ticker]})
            elif day.isoformat() in dates:
                records.append({**base, "status": "ok", "rows_received": 1})
            else:
                records.append({**base, "status": "empty", "error": "no EOD row for this session"})
    write_audit(store, SOURCE, records, fetch_id(fetched_at, context.run_id))
    audit = pd.DataFrame(records, columns=AUDIT_COLUMNS)
    metadata, check = outcome_metadata(BRONZE_FMP_EOD, tickers, failures, {
        "source": SOURCE, "window": f"{first}..{last}", "files_written": len(payloads),
        "audit_status_counts": dg.MetadataValue.json(
            {k: int(v) for k, v in audit.groupby("status").size().items()}),
    })
    if failures:
        context.log.warning(f"FMP EOD failed for {sorted(failures)}: {failures}")
    yield dg.MaterializeResult(metadata=metadata)
    yield check


def read_eod_bronze(lake: LakeResource, days: list) -> pd.DataFrame:
    """Every EOD payload covering ``days``; per (ticker, trade_date) the latest fetch wins."""
    store = lake.store()
    frames = [eod_bars(f.raw, f.ticker, f.fetched_at)
              for window in eod_windows_overlapping(store, days)
              for f in read_json_files(store, window)]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in BARS_1D_COLUMNS})
    bars = pd.concat(frames, ignore_index=True)
    bars = bars[bars["trade_date"].isin(set(days)) & bars["ts"].notna()]
    bars = bars.sort_values("ingested_at").drop_duplicates(["ticker", "trade_date"], keep="last")
    return bars.sort_values(["trade_date", "ticker"]).reset_index(drop=True)


def _ohlc_violations(bars: pd.DataFrame) -> pd.DataFrame:
    bad = (
        bars[["open", "high", "low", "close"]].isna().any(axis=1)
        | (bars[["open", "high", "low", "close"]] <= 0).any(axis=1)
        | (bars["high"] < bars[["open", "close"]].max(axis=1))
        | (bars["low"] > bars[["open", "close"]].min(axis=1))
        | bars["volume"].isna() | (bars["volume"] < 0)
    )
    return bars[bad]


@dg.asset(
    key=SILVER_BARS_1D, group_name="silver", partitions_def=trading_days,
    backfill_policy=SINGLE_RUN, deps=[BRONZE_FMP_EOD], kinds={"duckdb", "parquet"},
    check_specs=[dg.AssetCheckSpec(
        "ohlc_invariants", asset=SILVER_BARS_1D, blocking=True,
        description="high >= max(open, close), low <= min(open, close), prices > 0, volume >= 0")],
    description="FMP daily bars in the silver bar schema (source = 'fmp'), one per (ticker, day).",
)
def silver_bars_1d(context: dg.AssetExecutionContext, lake: LakeResource):
    days = partition_dates(context)
    bars = read_eod_bronze(lake, days)
    bad = _ohlc_violations(bars)
    context.log.info(f"silver bars_1d {days[0]}..{days[-1]}: {len(bars)} bars, {len(bad)} invalid")
    yield dg.Output(bars, metadata={"tickers": int(bars["ticker"].nunique())})
    yield dg.AssetCheckResult(
        check_name="ohlc_invariants", passed=bad.empty, severity=dg.AssetCheckSeverity.ERROR,
        metadata={"invalid_bars": len(bad),
                  "examples": dg.MetadataValue.json(
                      bad.head(10)[["ticker", "trade_date"]].astype(str).to_dict("records"))},
    )
