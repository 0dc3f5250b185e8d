"""Bronze 1-minute payloads split by trading day, and the ingestion audit that says, per
ticker and day, what a fetch returned and why something is missing.

Bronze keeps each vendor payload as received (plus ``_ticker`` and ``_fetched_at``), one
immutable file per (source, dataset, trading date, fetch); the audit is append-only too.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from finks_assets.lib import market_calendar
from finks_assets.lib.lake.layout import audit_partition_dir, bronze_partition_dir, fetch_id
from finks_assets.lib.lake.writer import LakeWriter
from finks_assets.lib.sources.base import BarFetch, BarSource

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

BARS_DATASET = "bars_1m"
AUDIT_COLUMNS = [
    "run_id", "source", "dataset", "trade_date", "ticker", "status", "rows_received",
    "duplicate_rows", "aligned_minutes", "first_ts", "last_ts", "error", "fetched_at",
]


def _tag_and_split(
    fetch: BarFetch, source: BarSource
) -> tuple[dict[dt.date, pd.DataFrame], pd.DataFrame]:
    """All tickers' raw rows (tagged ``_ticker``) grouped by the New York date of each bar.

    One concat, one ``to_canonical`` and one stable sort for the whole fetch: the per-ticker,
    per-day boolean masks this replaces cost O(days x rows) per ticker. Rows keep their
    received order within a day (tickers in request order), rows without a timestamp belong to
    no day and are not kept, as before. Also returns per-(ticker, day) statistics for the audit.
    """
    import numpy as np
    import pandas as pd
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
    import duckdb
    import pandas as pd
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
    writer: LakeWriter, fetch: BarFetch, by_day: dict[dt.date, list[pd.DataFrame]], run_id: str
) -> int:
    """Append one immutable file per trading day; returns the number of files written."""
    import pandas as pd
    import pyarrow as pa
    name = fetch_id(fetch.fetched_at, run_id)
    written = 0
    for day, frames in by_day.items():
        frames = [f for f in frames if not f.empty]
        if not frames:
            continue
        raw = pd.concat(frames, ignore_index=True).assign(_fetched_at=fetch.fetched_at)
        table = pa.Table.from_pandas(raw, preserve_index=False)
        writer.write_parquet(
            f"{bronze_partition_dir(fetch.source, BARS_DATASET, day)}/{name}.parquet", table)
        written += 1
    return written


def write_audit(writer: LakeWriter, source: str, records: list[dict], name: str) -> None:
    import pandas as pd
    import pyarrow as pa
    frame = pd.DataFrame(records, columns=AUDIT_COLUMNS)
    for day, part in frame.groupby("trade_date"):
        table = pa.Table.from_pandas(part.drop(columns=["trade_date"]), preserve_index=False)
        writer.write_parquet(f"{audit_partition_dir(source, day)}/{name}.parquet", table)
