"""FMP end-of-day prices: bronze (raw JSON per ticker and run window) and ``silver/fmp_bars_1d``.

``silver/fmp_bars_1d`` holds daily bars in the silver bar schema (``source = 'fmp'``, plus FMP's
vwap). With ``FINKS_SOURCE=fmp`` the daily job runs this path instead of the 1-minute one and
dbt's ``fct_daily_bars`` reads it (var ``daily_bars_from = 'bars_1d'``); with another source it
is the reference the reconciliation check compares the 1-minute rollup with. The backfill policy
(one run per ``FINKS_PARTITIONS_PER_RUN`` days) is set in ``definitions.py``.
"""

from collections import Counter
from typing import TYPE_CHECKING

import dagster as dg

from finks_assets.defs.fmp.outcomes import (
    FMP_POOL,
    FMP_RETRY_POLICY,
    check_spec,
    failure_status,
    fetch_each,
    outcome_metadata,
)
from finks_assets.lib import market_calendar
from finks_assets.lib.lake.fmp_layout import (
    BARS_1D,
    EOD_DATASET,
    SOURCE,
    eod_bronze_dir,
    eod_windows_overlapping,
    json_name,
    read_json_files,
)
from finks_assets.lib.lake.layout import fetch_id
from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.partitions import partition_dates, trading_days
from finks_assets.lib.resources.fmp import FmpResource
from finks_assets.lib.resources.lake import LakeResource
from finks_assets.lib.resources.universe import UniverseResource
from finks_assets.lib.run_config import TickerSelection
from finks_assets.lib.sources.fmp.parse import BARS_1D_COLUMNS, eod_bars
from finks_assets.lib.transforms.bronze_audit import write_audit

if TYPE_CHECKING:
    import pandas as pd

BRONZE_FMP_EOD = dg.AssetKey(["bronze", "fmp_eod"])
SILVER_FMP_BARS_1D = dg.AssetKey(["silver", BARS_1D])


@dg.asset(
    key=BRONZE_FMP_EOD, group_name="bronze", partitions_def=trading_days, kinds={"python", "json"},
    pool=FMP_POOL, retry_policy=FMP_RETRY_POLICY, check_specs=[check_spec(BRONZE_FMP_EOD)],
    description="FMP /stable/historical-price-eod/full answers, raw JSON bytes, append-only.",
)
def bronze_fmp_eod(context: dg.AssetExecutionContext, config: TickerSelection, fmp: FmpResource,
                   lake: LakeResource, universe: UniverseResource):
    import pandas as pd
    tickers = config.resolve(universe.tickers)
    days = partition_dates(context)
    first, last = min(days), max(days)
    writer = lake.writer()
    payloads, failures = fetch_each(
        fmp, tickers, lambda client, t: client.historical_price_eod(t, first, last), context.log)
    fetched_at = pd.Timestamp.now(tz="UTC")
    records = []
    for ticker in tickers:
        payload, dates = payloads.get(ticker), set()
        if payload is not None:
            writer.write_bytes(json_name(eod_bronze_dir(first, last, ticker), payload.fetched_at,
                                         context.run_id), payload.raw)
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
            elif day.isoformat() in dates and market_calendar.has_closed(
                    market_calendar.session(day), payload.fetched_at):
                records.append({**base, "status": "ok", "rows_received": 1})
            else:  # silver drops a row fetched before the close (market_calendar.bar_has_ended)
                records.append({**base, "status": "empty", "error": "no final EOD row for this "
                                "session (none, or fetched before the close)"})
    write_audit(writer, SOURCE, records, fetch_id(fetched_at, context.run_id))
    landed = Counter(r["trade_date"] for r in records if r["status"] == "ok")
    for key, day in zip(context.partition_keys, days, strict=True):
        context.add_asset_metadata({"dagster/row_count": landed[day]}, partition_key=key)
    metadata, check = outcome_metadata(BRONZE_FMP_EOD, tickers, failures, {
        "source": SOURCE, "window": f"{first}..{last}", "files_written": len(payloads),
        "audit_status_counts": dg.MetadataValue.json(dict(Counter(r["status"] for r in records))),
    })
    if failures:
        context.log.warning(f"FMP EOD failed for {sorted(failures)}: {failures}")
    yield dg.MaterializeResult(metadata=metadata)
    yield check


def read_eod_bronze(store: LakeStore, days: list) -> "pd.DataFrame":
    """Every EOD payload covering ``days``; per (ticker, trade_date) the latest fetch wins."""
    import pandas as pd
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


def _ohlc_violations(bars: "pd.DataFrame") -> "pd.DataFrame":
    bad = (
        bars[["open", "high", "low", "close"]].isna().any(axis=1)
        | (bars[["open", "high", "low", "close"]] <= 0).any(axis=1)
        | (bars["high"] < bars[["open", "close"]].max(axis=1))
        | (bars["low"] > bars[["open", "close"]].min(axis=1))
        | bars["volume"].isna() | (bars["volume"] < 0)
    )
    return bars[bad]


@dg.asset(
    key=SILVER_FMP_BARS_1D, group_name="silver", partitions_def=trading_days,
    deps=[BRONZE_FMP_EOD], kinds={"duckdb", "parquet"},
    check_specs=[dg.AssetCheckSpec(
        "ohlc_invariants", asset=SILVER_FMP_BARS_1D, blocking=True,
        description="high >= max(open, close), low <= min(open, close), prices > 0, volume >= 0")],
    description="FMP daily bars in the silver bar schema (source = 'fmp'), one per (ticker, day); "
                "written by the lake IO manager.",
)
def silver_fmp_bars_1d(context: dg.AssetExecutionContext, lake: LakeResource):
    days = partition_dates(context)
    bars = read_eod_bronze(lake.store(), days)
    bad = _ohlc_violations(bars)
    context.log.info(f"silver {BARS_1D} {days[0]}..{days[-1]}: {len(bars)} bars, {len(bad)} invalid")
    per_day = Counter(bars["trade_date"])
    for key, day in zip(context.partition_keys, days, strict=True):
        context.add_asset_metadata({"dagster/row_count": per_day[day]}, partition_key=key)
    yield dg.Output(bars, metadata={"tickers": int(bars["ticker"].nunique())})
    yield dg.AssetCheckResult(
        check_name="ohlc_invariants", passed=bad.empty, severity=dg.AssetCheckSeverity.ERROR,
        metadata={"invalid_bars": len(bad),
                  "examples": dg.MetadataValue.json(
                      bad.head(10)[["ticker", "trade_date"]].astype(str).to_dict("records"))},
    )
