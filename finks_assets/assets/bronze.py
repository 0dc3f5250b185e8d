"""Bronze: vendor payloads exactly as received, append-only, plus an ingestion audit.

Each run writes one file per (source, dataset, trading date, fetch) holding the vendor's
columns untouched and two lineage columns (``_ticker``, ``_fetched_at``). Nothing is ever
overwritten, so any silver bug can be fixed and replayed without calling the vendor again.
The audit records, per ticker and partition, what came back and why something is missing.
"""


import datetime as dt
import time

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from finks_assets import market_calendar
from finks_assets.assets.config import BarFetchConfig
from finks_assets.lake.layout import audit_partition_dir, bronze_partition_dir, fetch_id
from finks_assets.lake.store import LakeStore
from finks_assets.partitions import SINGLE_RUN, partition_dates, trading_days
from finks_assets.resources.lake import LakeResource
from finks_assets.resources.market_data import MarketDataResource
from finks_assets.sources.base import BarFetch, BarSource, TickerOutcome

BARS_DATASET = "bars_1m"
AUDIT_COLUMNS = [
    "run_id", "source", "dataset", "trade_date", "ticker", "status", "rows_received",
    "duplicate_rows", "aligned_minutes", "first_ts", "last_ts", "error", "fetched_at",
]


class UniverseResource(dg.ConfigurableResource):
    """The default ticker universe (``FINKS_UNIVERSE``), already validated."""

    tickers: list[str]


def _tag_and_split(
    fetch: BarFetch, source: BarSource
) -> tuple[dict[dt.date, pd.DataFrame], pd.DataFrame]:
    """All tickers' raw rows (tagged ``_ticker``) grouped by the New York date of each bar.

    One concat, one ``to_canonical`` and one stable sort for the whole fetch: the per-ticker,
    per-day boolean masks this replaces cost O(days x rows) per ticker. Rows keep their
    received order within a day (tickers in request order), rows without a timestamp belong to
    no day and are not kept, as before. Also returns per-(ticker, day) statistics for the audit.
    """
    names = [t for t in fetch.outcomes if t in fetch.frames and not fetch.frames[t].empty]
    tagged = [fetch.frames[t].assign(_ticker=t) for t in names]
    if not tagged:
        return {}, pd.DataFrame(columns=["ticker", "day", "rows", "distinct_ts", "aligned_minutes",
                                         "first_ts", "last_ts"])
    raw = pd.concat(tagged, ignore_index=True) if len(tagged) > 1 else tagged[0]
    ts = source.to_canonical(raw)["ts"]
    local = ts.dt.tz_convert(market_calendar.EXCHANGE_TZ).dt.tz_localize(None)
    day_codes = local.to_numpy().astype("datetime64[D]")
    keep = ~np.isnat(day_codes)
    order = np.flatnonzero(keep)[np.argsort(day_codes[keep], kind="stable")]
    ordered = raw.take(order)
    sorted_codes = day_codes[order]
    uniques, starts = np.unique(sorted_codes, return_index=True)
    bounds = [*starts.tolist(), len(order)]
    by_day = {
        code.astype(object): ordered.iloc[bounds[i]:bounds[i + 1]]
        for i, code in enumerate(uniques)
    }
    # Integer ticker codes and naive-UTC datetime64: object arrays of str/Timestamp cost seconds.
    codes = np.repeat(np.arange(len(tagged)), [len(frame) for frame in tagged])
    utc = ts.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    stats = _ticker_day_stats(codes[order], utc[order], sorted_codes)
    stats["ticker"] = [names[code] for code in stats.pop("code")]
    for column in ("first_ts", "last_ts"):
        stats[column] = pd.to_datetime(stats[column], utc=True).dt.as_unit(ts.dtype.unit)
    return by_day, stats


def _ticker_day_stats(codes: np.ndarray, ts: np.ndarray, days: np.ndarray) -> pd.DataFrame:
    """Rows, distinct timestamps, distinct minute-aligned ones and first/last bar (naive UTC)
    per (ticker code, day); silver uses them to skip fetches a newer one replaces."""
    frame = pd.DataFrame({"code": codes, "ts": ts, "day": days})
    con = duckdb.connect(config={"threads": 2})
    try:
        con.register("bars", frame)
        stats = con.execute(
            "select code, day, count(*) as rows, count(distinct ts) as distinct_ts,"
            " count(distinct ts) filter (where ts = date_trunc('minute', ts)) as aligned_minutes,"
            " min(ts) as first_ts, max(ts) as last_ts from bars group by all"
        ).df()
    finally:
        con.close()
    stats["day"] = pd.to_datetime(stats["day"]).dt.date
    return stats


def audit_rows(
    fetch: BarFetch, source: BarSource, days: list[dt.date], run_id: str
) -> tuple[list[dict], dict[dt.date, list[pd.DataFrame]]]:
    """Per-(ticker, day) audit records and the raw rows grouped by trading day."""
    split, stats = _tag_and_split(fetch, source)
    by_day: dict[dt.date, list[pd.DataFrame]] = {day: [] for day in days}
    for day, frame in sorted(split.items()):
        by_day.setdefault(day, []).append(frame)
    received = {
        (row.ticker, row.day): row
        for row in stats.itertuples(index=False)
    }
    open_days = {day: market_calendar.is_session(day) for day in days}
    records: list[dict] = []
    for ticker, outcome in fetch.outcomes.items():
        for day in days:
            got = received.get((ticker, day))
            base = {
                "run_id": run_id, "source": fetch.source, "dataset": BARS_DATASET,
                "trade_date": day, "ticker": ticker, "fetched_at": fetch.fetched_at,
                "rows_received": 0, "duplicate_rows": 0, "aligned_minutes": 0, "first_ts": None, "last_ts": None,
            }
            if not open_days[day]:
                records.append({**base, "status": "market_closed", "error": None})
            elif outcome.status == "error":
                records.append({**base, "status": "error", "error": outcome.error})
            elif got is None:
                records.append({**base, "status": "empty", "error": outcome.error})
            else:
                records.append({
                    **base, "status": "ok", "error": None, "rows_received": int(got.rows),
                    "duplicate_rows": int(got.rows - got.distinct_ts),
                    "aligned_minutes": int(got.aligned_minutes),
                    "first_ts": got.first_ts, "last_ts": got.last_ts,
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


def fetch_chunks(
    days: list[dt.date], sessions: list[dt.date], sessions_per_fetch: int
) -> list[tuple[list[dt.date], list[dt.date]]]:
    """The run's partitions cut into consecutive chunks of at most ``sessions_per_fetch``
    sessions, each with the market-closed days that fall among them (a chunk's audit covers
    exactly its own partitions, so every partition is audited once)."""
    chunks: list[tuple[list[dt.date], list[dt.date]]] = []
    open_days = set(sessions)
    current: list[dt.date] = []
    for day in days:
        if day in open_days and sum(d in open_days for d in current) == sessions_per_fetch:
            chunks.append((current, [d for d in current if d in open_days]))
            current = []
        current.append(day)
    if current or not chunks:
        chunks.append((current, [d for d in current if d in open_days]))
    return chunks


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
    config: BarFetchConfig,
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
        f"({len(days) - len(sessions)} market-closed partitions) from {source.name}, "
        f"{config.sessions_per_fetch} sessions at a time"
    )
    store = lake.store()
    records: list[dict] = []
    files = 0
    chunks = fetch_chunks(days, sessions, config.sessions_per_fetch)
    for number, (chunk_days, chunk_sessions) in enumerate(chunks, start=1):
        started = time.perf_counter()
        fetch = source.fetch_bars_1m(tickers, chunk_sessions) if chunk_sessions else BarFetch(
            source=source.name, fetched_at=pd.Timestamp.now(tz="UTC"),
            outcomes={t: TickerOutcome(ticker=t, status="empty") for t in tickers},
        )
        chunk_records, by_day = audit_rows(fetch, source, chunk_days, context.run_id)
        files += write_bronze(store, fetch, by_day, context.run_id)
        write_audit(store, source.name, chunk_records, fetch_id(fetch.fetched_at, context.run_id))
        records.extend(chunk_records)
        if len(chunks) > 1:
            context.log.info(
                f"bronze chunk {number}/{len(chunks)} {chunk_days[0]}..{chunk_days[-1]}: "
                f"{sum(r['rows_received'] for r in chunk_records)} rows, "
                f"{time.perf_counter() - started:.1f} s"
            )
        del fetch, by_day

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
