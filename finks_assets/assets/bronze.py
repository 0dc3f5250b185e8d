"""Bronze: vendor payloads exactly as received, append-only, plus an ingestion audit.

Each run writes one file per (source, dataset, trading date, fetch) holding the vendor's
columns untouched and two lineage columns (``_ticker``, ``_fetched_at``). Nothing is ever
overwritten, so any silver bug can be fixed and replayed without calling the vendor again.
The audit records, per ticker and partition, what came back and why something is missing.
"""


import datetime as dt

import dagster as dg
import pandas as pd
import pyarrow as pa

from finks_assets import market_calendar
from finks_assets.assets.config import TickerSelection
from finks_assets.lake.layout import audit_partition_dir, bronze_partition_dir, fetch_id
from finks_assets.lake.store import LakeStore
from finks_assets.partitions import SINGLE_RUN, partition_dates, trading_days
from finks_assets.resources.lake import LakeResource
from finks_assets.resources.market_data import MarketDataResource
from finks_assets.sources.base import BarFetch, BarSource, TickerOutcome

BARS_DATASET = "bars_1m"
AUDIT_COLUMNS = [
    "run_id", "source", "dataset", "trade_date", "ticker", "status", "rows_received",
    "duplicate_rows", "first_ts", "last_ts", "error", "fetched_at",
]


class UniverseResource(dg.ConfigurableResource):
    """The default ticker universe (``FINKS_UNIVERSE``), already validated."""

    tickers: list[str]


def _bars_by_day(source: BarSource, ticker: str, raw: pd.DataFrame) -> dict[dt.date, pd.DataFrame]:
    """Split one ticker's raw frame by the New York date of each bar."""
    if raw.empty:
        return {}
    tagged = raw.assign(_ticker=ticker)
    canonical = source.to_canonical(tagged)
    days = market_calendar.exchange_date(canonical["ts"])
    return {day: tagged[(days == day).to_numpy()] for day in sorted(set(days.dropna()))}


def audit_rows(
    fetch: BarFetch, source: BarSource, days: list[dt.date], run_id: str
) -> tuple[list[dict], dict[dt.date, list[pd.DataFrame]]]:
    """Per-(ticker, day) audit records and the raw rows grouped by trading day."""
    by_day: dict[dt.date, list[pd.DataFrame]] = {day: [] for day in days}
    records: list[dict] = []
    for ticker, outcome in fetch.outcomes.items():
        split = _bars_by_day(source, ticker, fetch.frames.get(ticker, pd.DataFrame()))
        for day, frame in split.items():
            by_day.setdefault(day, []).append(frame)
        for day in days:
            frame = split.get(day)
            base = {
                "run_id": run_id, "source": fetch.source, "dataset": BARS_DATASET,
                "trade_date": day, "ticker": ticker, "fetched_at": fetch.fetched_at,
                "rows_received": 0, "duplicate_rows": 0, "first_ts": None, "last_ts": None,
            }
            if not market_calendar.is_session(day):
                records.append({**base, "status": "market_closed", "error": None})
            elif outcome.status == "error":
                records.append({**base, "status": "error", "error": outcome.error})
            elif frame is None or frame.empty:
                records.append({**base, "status": "empty", "error": outcome.error})
            else:
                ts = source.to_canonical(frame)["ts"]
                records.append({
                    **base, "status": "ok", "error": None, "rows_received": len(frame),
                    "duplicate_rows": int(ts.duplicated().sum()),
                    "first_ts": ts.min(), "last_ts": ts.max(),
                })
    return records, by_day


def write_bronze(
    store: LakeStore, fetch: BarFetch, by_day: dict[dt.date, list[pd.DataFrame]], run_id: str
) -> int:
    """Append one immutable file per trading day; returns the number of files written."""
    name = fetch_id(fetch.fetched_at, run_id)
    written = 0
    for day, frames in by_day.items():
        frames = [f for f in frames if not f.empty]
        if not frames:
            continue
        raw = pd.concat(frames, ignore_index=True).assign(_fetched_at=fetch.fetched_at)
        table = pa.Table.from_pandas(raw, preserve_index=False)
        store.write_parquet(f"{bronze_partition_dir(fetch.source, BARS_DATASET, day)}/{name}.parquet", table)
        written += 1
    return written


def write_audit(store: LakeStore, source: str, records: list[dict], name: str) -> None:
    frame = pd.DataFrame(records, columns=AUDIT_COLUMNS)
    for day, part in frame.groupby("trade_date"):
        table = pa.Table.from_pandas(part.drop(columns=["trade_date"]), preserve_index=False)
        store.write_parquet(f"{audit_partition_dir(source, day)}/{name}.parquet", table)


@dg.asset(
    key=["bronze", "bars_1m"],
    group_name="bronze",
    partitions_def=trading_days,
    backfill_policy=SINGLE_RUN,
    kinds={"python", "parquet"},
    check_specs=[
        dg.AssetCheckSpec(
            "all_tickers_delivered",
            asset=dg.AssetKey(["bronze", "bars_1m"]),
            description="Every selected ticker returned bars for every session in the run.",
        )
    ],
    description="Raw 1-minute bars from FINKS_SOURCE, as received, append-only.",
)
def bronze_bars_1m(
    context: dg.AssetExecutionContext,
    config: TickerSelection,
    market_data: MarketDataResource,
    lake: LakeResource,
    universe: UniverseResource,
):
    tickers = config.resolve(universe.tickers)
    days = partition_dates(context)
    source = market_data.bar_source()
    sessions = [d for d in days if market_calendar.is_session(d)]
    context.log.info(
        f"fetching {len(tickers)} tickers x {len(sessions)} sessions "
        f"({len(days) - len(sessions)} market-closed partitions) from {source.name}"
    )
    fetch = source.fetch_bars_1m(tickers, sessions) if sessions else BarFetch(
        source=source.name, fetched_at=pd.Timestamp.now(tz="UTC"),
        outcomes={t: TickerOutcome(ticker=t, status="empty") for t in tickers},
    )
    records, by_day = audit_rows(fetch, source, days, context.run_id)
    store = lake.store()
    files = write_bronze(store, fetch, by_day, context.run_id)
    write_audit(store, source.name, records, fetch_id(fetch.fetched_at, context.run_id))

    audit = pd.DataFrame(records, columns=AUDIT_COLUMNS)
    failed = audit[audit["status"].isin(["error", "empty"])]
    summary = audit.groupby("status").size().to_dict()
    context.log.info(f"bronze audit: {summary}; {files} files written")
    yield dg.MaterializeResult(
        metadata={
            "source": source.name,
            "tickers": len(tickers),
            "sessions": len(sessions),
            "rows_received": int(audit["rows_received"].sum()),
            "files_written": files,
            "audit_status_counts": dg.MetadataValue.json({k: int(v) for k, v in summary.items()}),
            "failed_tickers": dg.MetadataValue.md(_failures_markdown(failed)),
        }
    )
    yield dg.AssetCheckResult(
        check_name="all_tickers_delivered",
        passed=failed.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "failed_ticker_days": len(failed),
            "failed_tickers": sorted(failed["ticker"].unique().tolist()),
        },
    )


def _failures_markdown(failed: pd.DataFrame) -> str:
    if failed.empty:
        return "All tickers delivered bars for every session."
    lines = ["| ticker | trade_date | status | error |", "|---|---|---|---|"]
    for row in failed.head(50).itertuples():
        lines.append(f"| {row.ticker} | {row.trade_date} | {row.status} | {row.error or ''} |")
    if len(failed) > 50:
        lines.append(f"| … | | | {len(failed) - 50} more |")
    return "\n".join(lines)
