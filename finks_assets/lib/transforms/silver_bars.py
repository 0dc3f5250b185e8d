"""Bronze -> silver for 1-minute bars: type, refuse, deduplicate, align to the session, quarantine.

One DuckDB pass over the run's days classifies every row (rules 1 to 3); bad prints (rule 4)
are then found in numpy over the sorted passing bars. Rules, in order:

1. Refuse, *before* de-duplication, rows that cannot be trusted to compete for a key:
   ``invalid_ticker`` (the symbol does not match :data:`finks_assets.lib.tickers.TICKER_PATTERN`),
   ``null_field`` for a bar without a timestamp, and ``wrong_partition`` for a bar whose New
   York date is not the trading date of the payload it came in (bronze splits by that date,
   so such a row only comes from a misfiled landed file). A refused row never replaces a bar
   of another session: it goes straight to quarantine under its payload's trading date.
2. Deduplicate on (ticker, ts): the latest fetch wins (design decision 4); between copies of
   one fetch time, the later payload file wins, and inside one payload the *later row* wins.
   The order is explicit (``ingested_at``, ``payload``, ``payload_row``), never scan order, so
   the outcome does not depend on how DuckDB happens to read the rows. A row that a later row
   *of the same payload* replaces with different values is a ``conflicting duplicate``: still
   superseded, but counted and sampled apart (:class:`ConflictingDuplicates`), because a vendor
   contradicting itself inside one payload deserves a look, a re-fetch does not.
3. Classify each surviving bar; the first failing rule names the quarantine ``reason``:
   ``null_field``, ``market_closed``, ``out_of_session``, ``misaligned_minute``,
   ``non_positive_price``, ``negative_volume``, ``fractional_volume``, ``ohlc_invariant``.
   Fractional volume is quarantined, not truncated: silver stores whole shares (BIGINT), and
   rounding a vendor's number silently would change the day's volume and VWAP.
4. ``bad_print``: among the bars that passed, per (ticker, trading date) in time order, a bar
   whose close, high or low jumps away from the previous bar's value and straight back at the
   next bar is a bad print. Precisely, for x in (close, high, low), with p and n the previous
   and next passing bar's x: ``ln(x/p)`` and ``ln(n/x)`` have opposite signs and both exceed
   ``ln(1 + bad_print_threshold)`` in absolute value (default 0.5: +50% / -33%, the
   outlier check's level). A move that does not revert is a real move and stays (the WARN
   ``outlier_jumps`` check names it); the first and last bar of a day have no two neighbours
   and are never bad prints; two bad bars in a row are not caught by this rule either.
5. Good bars go to silver, the rest to quarantine with their reason. Nothing is dropped
   silently: ``superseded`` rows are counted, not kept, because a newer copy of the same bar
   exists in silver.

Whole payload files that cannot be read as bars are rejected before any of this (see
:mod:`bronze_reader`); :data:`REJECTED_FILE_REASONS` lists why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from finks_assets.lib import market_calendar
from finks_assets.lib.frames import concat_rows, empty_frame
from finks_assets.lib.sources.base import CANONICAL_COLUMNS, BarSource
from finks_assets.lib.tickers import TICKER_PATTERN

if TYPE_CHECKING:
    from collections.abc import Callable

    import duckdb
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from finks_assets.lib.transforms.bronze_reader import BronzeRead

SILVER_COLUMNS = [
    "ticker", "ts", "open", "high", "low", "close", "volume", "source", "ingested_at", "trade_date",
]
# Every reason a quarantined row can carry, in the order the rules are applied. The one list:
# the SQL below, the dbt accepted_values test and the reports all name these.
QUARANTINE_REASONS = (
    "invalid_ticker", "null_field", "wrong_partition", "market_closed", "out_of_session",
    "misaligned_minute", "non_positive_price", "negative_volume", "fractional_volume",
    "ohlc_invariant", "bad_print",
)
# Why a whole payload file was refused (it never becomes rows, so it has no row reason).
REJECTED_FILE_REASONS = ("unreadable_file", "missing_columns", "wrong_types", "naive_timestamp")
REJECTED_FILE_COLUMNS = ["trade_date", "path", "reason", "detail"]
BAD_PRINT_THRESHOLD = 0.5
CONFLICT_SAMPLE_PER_DAY = 20


_CLEAN_SQL = """
with checked as (
    select b.*,
           case
             when b.ticker is null or b.ticker in (select ticker from invalid_tickers)
                  then 'invalid_ticker'
             when b.ts is null then 'null_field'
             when b.ts < p.day_start or b.ts >= p.day_end then 'wrong_partition'
           end as refused,
           hash(b.open, b.high, b.low, b.close, b.volume) as value_hash
    from bars b
    left join partition_days p on b.trade_date = p.trade_date
),
ranked as (
    select *,
           row_number() over w as fetch_rank,
           -- the next newer copy of the same key (its predecessor in this order)
           lag(payload) over w as newer_payload,
           lag(value_hash) over w as newer_hash
    from checked
    window w as (partition by refused is null, ticker, ts
                 order by ingested_at desc nulls last, payload desc, payload_row desc)
),
classified as (
    select l.ticker, l.ts, l.open, l.high, l.low, l.close, l.volume, l.source, l.ingested_at,
           l.trade_date, l.payload, l.payload_row, l.fetch_rank, l.refused,
           l.refused is null and l.fetch_rank > 1 as superseded,
           l.refused is null and l.fetch_rank > 1 and l.newer_payload = l.payload
               and l.newer_hash <> l.value_hash as conflicting,
           case
             when l.refused is not null then l.refused
             when l.fetch_rank > 1 then null
             when l.open is null or not isfinite(l.open)
                  or l.high is null or not isfinite(l.high)
                  or l.low is null or not isfinite(l.low)
                  or l.close is null or not isfinite(l.close)
                  or l.volume is null or not isfinite(l.volume) then 'null_field'
             when s.trade_date is null then 'market_closed'
             when l.ts < s.open_utc or l.ts >= s.close_utc then 'out_of_session'
             -- epoch arithmetic, not date_trunc: on a TIMESTAMPTZ date_trunc goes through ICU's
             -- calendar, ~0.4 s per million bars
             when epoch_us(l.ts) % 60000000 <> 0 then 'misaligned_minute'
             when l.open <= 0 or l.high <= 0 or l.low <= 0 or l.close <= 0 then 'non_positive_price'
             when l.volume < 0 then 'negative_volume'
             when l.volume <> trunc(l.volume) then 'fractional_volume'
             when l.high < greatest(l.open, l.close) or l.low > least(l.open, l.close)
                  then 'ohlc_invariant'
           end as reason
    from ranked l
    left join sessions s on l.trade_date = s.trade_date
)
select * from classified
"""
# Sorting and splitting happen in DuckDB (parallel, columnar) rather than in pandas.
_SPLIT_SQL = {
    # volume is whole here: fractional volume was quarantined, so the cast is exact
    "good": """
        select ticker, ts, open, high, low, close, cast(volume as bigint) as volume,
               source, ingested_at, trade_date
        from classified where reason is null and not superseded order by trade_date, ticker, ts
    """,
    "bad": """
        select ticker, ts, open, high, low, close, volume, source, ingested_at, trade_date, reason
        from classified where reason is not null order by trade_date, ticker, ts
    """,
    "conflict_counts": """
        select trade_date, count(*) as rows from classified where conflicting group by trade_date
    """,
    # up to CONFLICT_SAMPLE_PER_DAY rows per day, discarded values next to the kept ones
    "conflict_sample": """
        with sample as (
            select * from classified where conflicting
            qualify row_number() over (partition by trade_date order by ticker, ts, payload_row)
                    <= $per_day
        )
        select c.trade_date, c.ticker, c.ts, c.source, c.ingested_at,
               c.open, c.high, c.low, c.close, c.volume,
               k.open as kept_open, k.high as kept_high, k.low as kept_low,
               k.close as kept_close, k.volume as kept_volume
        from sample c
        join classified k on k.ticker = c.ticker and k.ts = c.ts
                         and k.refused is null and k.fetch_rank = 1
        order by c.trade_date, c.ticker, c.ts, c.payload_row
    """,
}


@dataclass
class ConflictingDuplicates:
    """Rows a later row of the *same payload* replaced with different values.

    ``counts`` per trading date (every such row); ``sample`` up to
    :data:`CONFLICT_SAMPLE_PER_DAY` of them per day, each with the values that were discarded
    (``open`` ... ``volume``) next to the ones kept (``kept_open`` ... ``kept_volume``). They
    are part of :attr:`SilverResult.superseded` too: the later row won, as the rule says.
    """

    counts: dict[dt.date, int] = field(default_factory=dict)
    sample: pd.DataFrame = field(default_factory=empty_frame)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def on(self, day: dt.date) -> tuple[int, pd.DataFrame]:
        """The day's count and sample rows."""
        import pandas as pd
        if self.sample.empty:
            return self.counts.get(day, 0), self.sample
        days = pd.to_datetime(self.sample["trade_date"]).dt.date
        return self.counts.get(day, 0), self.sample[days == day]


def empty_rejected_files() -> pd.DataFrame:
    import pandas as pd
    return pd.DataFrame({c: pd.Series([], dtype="object") for c in REJECTED_FILE_COLUMNS})


@dataclass
class SilverResult:
    bars: pd.DataFrame
    quarantine: pd.DataFrame
    superseded: int
    conflicting_duplicates: ConflictingDuplicates = field(default_factory=ConflictingDuplicates)
    # payload files refused whole: trade_date, path, reason (REJECTED_FILE_REASONS), detail
    rejected_files: pd.DataFrame = field(default_factory=empty_rejected_files)

    @classmethod
    def of_batches(cls, parts: list[SilverResult]) -> SilverResult:
        """One result for a window cleaned in batches of disjoint days (``bronze_batches``):
        every rule is local to a day, so this is the result of cleaning it at once."""
        samples = [p.conflicting_duplicates.sample for p in parts]
        return cls(
            bars=concat_rows([p.bars for p in parts]),
            quarantine=concat_rows([p.quarantine for p in parts]),
            superseded=sum(p.superseded for p in parts),
            conflicting_duplicates=ConflictingDuplicates(
                counts={d: n for p in parts for d, n in p.conflicting_duplicates.counts.items()},
                sample=concat_rows(samples)),
            rejected_files=concat_rows([p.rejected_files for p in parts]),
        )

    def quarantine_counts(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.quarantine["reason"].value_counts().sort_index().items()}

    def rejected_files_on(self, day: dt.date) -> pd.DataFrame:
        import pandas as pd
        if self.rejected_files.empty:
            return self.rejected_files
        days = pd.to_datetime(self.rejected_files["trade_date"]).dt.date
        return self.rejected_files[days == day]

    def outcome_metadata(self, day: dt.date, sample_rows: int = 5) -> dict[str, object]:
        """JSON-ready per-day outcomes for asset/check metadata: conflicting duplicates (count
        and a few sample rows) and the rejected payload files (path and reason)."""
        count, sample = self.conflicting_duplicates.on(day)
        rejected = self.rejected_files_on(day)
        return {
            "conflicting_duplicates": count,
            "conflicting_duplicates_sample": _json_rows(sample.head(sample_rows)),
            "rejected_files": _json_rows(rejected[["path", "reason", "detail"]]
                                         if len(rejected) else rejected),
        }


def _json_rows(frame: pd.DataFrame) -> list[dict[str, object]]:
    if frame.empty:
        return []
    return [{k: (v if isinstance(v, int | float | bool) or v is None else str(v))
             for k, v in row.items()} for row in frame.to_dict("records")]


def empty_canonical() -> pd.DataFrame:
    import pandas as pd
    return pd.DataFrame(
        {
            "ticker": pd.Series([], dtype="string"),
            "ts": pd.Series([], dtype="datetime64[us, UTC]"),
            **{c: pd.Series([], dtype="float64") for c in ("open", "high", "low", "close")},
            "volume": pd.Series([], dtype="float64"),
            "source": pd.Series([], dtype="string"),
            "ingested_at": pd.Series([], dtype="datetime64[us, UTC]"),
            "trade_date": pd.Series([], dtype="object"),
            "payload": pd.Series([], dtype="int64"),
            "payload_row": pd.Series([], dtype="int64"),
        }
    )


def _with_payload_order(bars: pd.DataFrame) -> pd.DataFrame:
    """Frames built by hand (tests, tools) may lack the payload columns: then rows of one
    ``ingested_at`` form one payload, in frame order."""
    import numpy as np
    import pandas as pd
    extra = {}
    if "payload" not in bars:
        extra["payload"] = pd.factorize(bars["ingested_at"], use_na_sentinel=False)[0]
    if "payload_row" not in bars:
        extra["payload_row"] = np.arange(len(bars), dtype="int64")
    return bars.assign(**extra) if extra else bars


def _partition_days(bars: pd.DataFrame) -> pd.DataFrame:
    """[New York midnight, next midnight) in UTC for each trading date present: a bar outside
    its payload's day is ``wrong_partition``. Computed per date here, not per row in SQL
    (an ICU time-zone conversion per row costs ~0.4 s per million bars)."""
    import pandas as pd
    dates = sorted({d for d in pd.to_datetime(bars["trade_date"].dropna().unique()).date})
    start = pd.DatetimeIndex([pd.Timestamp(d) for d in dates]).tz_localize(
        market_calendar.EXCHANGE_TZ)
    end = pd.DatetimeIndex([pd.Timestamp(d + dt.timedelta(days=1)) for d in dates]).tz_localize(
        market_calendar.EXCHANGE_TZ)
    return pd.DataFrame({
        "trade_date": pd.Series(dates, dtype="object"),
        "day_start": start.tz_convert("UTC"), "day_end": end.tz_convert("UTC"),
    })


def _invalid_tickers(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The run's distinct symbols that fail the one ticker pattern (checked in Python with the
    same compiled pattern the rest of Finks uses; there are only hundreds of distinct ones)."""
    import pandas as pd
    distinct = [row[0] for row in con.execute(
        "select distinct ticker from bars where ticker is not null").fetchall()]
    bad = [t for t in distinct if not isinstance(t, str) or not TICKER_PATTERN.fullmatch(t)]
    return pd.DataFrame({"ticker": pd.Series(bad, dtype="object")})


def clean_bars(
    bars: pd.DataFrame, days: list[dt.date], threads: int = 2,
    bad_print_threshold: float = BAD_PRINT_THRESHOLD,
) -> SilverResult:
    """Split canonical bars (with source, ingested_at, trade_date, and optionally payload and
    payload_row) into silver, quarantine, superseded and conflicting duplicates.

    ``bars.volume`` may be float (vendors send NaN); it is checked, then stored as BIGINT.
    """
    import duckdb
    import pandas as pd
    import pyarrow as pa
    bars = _with_payload_order(bars if len(bars) else empty_canonical())
    if bars["volume"].dtype != "float64":
        bars = bars.assign(volume=bars["volume"].astype("float64"))
    sessions = market_calendar.sessions_frame(days)
    con = duckdb.connect(config={"threads": threads, "preserve_insertion_order": False})
    try:
        con.execute("set TimeZone = 'UTC'")
        # Arrow, not pandas: DuckDB scans it in place instead of turning every string into a
        # Python object first.
        con.register("bars", pa.Table.from_pandas(bars, preserve_index=False))
        con.register("sessions", sessions)
        con.register("partition_days", _partition_days(bars))
        con.register("invalid_tickers", _invalid_tickers(con))
        con.execute(f"create temp table classified as {_CLEAN_SQL}")
        total, superseded = con.execute(
            "select count(*), count(*) filter (where superseded) from classified").fetchone()
        good = con.execute(_SPLIT_SQL["good"]).df()
        bad = con.execute(_SPLIT_SQL["bad"]).df()
        conflict_counts = con.execute(_SPLIT_SQL["conflict_counts"]).fetchall()
        conflict_sample = con.execute(_SPLIT_SQL["conflict_sample"],
                                      {"per_day": CONFLICT_SAMPLE_PER_DAY}).df()
    finally:
        con.close()
    if total:
        # DuckDB types an all-empty VARCHAR result as object; keep the dtypes a single
        # classified frame had (str), whichever side of the split is empty.
        # An untyped (all-null) column would also keep an empty day's table out of Glue.
        good, bad = (f if len(f) else f.astype({c: "str" for c in ("ticker", "source", "reason")
                                                 if c in f.columns})
                     for f in (good, bad))
    good, bad = _quarantine_bad_prints(good, bad, bad_print_threshold)
    conflicts = ConflictingDuplicates(
        counts={pd.Timestamp(d).date(): int(n) for d, n in conflict_counts},
        sample=conflict_sample,
    )
    return SilverResult(bars=good, quarantine=bad, superseded=int(superseded),
                        conflicting_duplicates=conflicts)


def clean_read(read: BronzeRead, days: list[dt.date],
               clean: Callable[[pd.DataFrame, list[dt.date]], SilverResult] = clean_bars,
               ) -> SilverResult:
    """``clean`` over a bronze read, keeping what the read itself found.

    The rows of fetches a newer one replaces were never read, yet they are superseded rows all
    the same; and the landed files the read refused belong in the day's quality report. The
    silver asset passes its own ``clean_bars`` (looked up at call time, so a test can plant a
    transform bug there).
    """
    result = clean(read.bars, days)
    result.superseded += read.unread_rows
    result.rejected_files = read.rejected_files
    return result


def bad_print_mask(good: pd.DataFrame, threshold: float = BAD_PRINT_THRESHOLD) -> np.ndarray:
    """Which rows of ``good`` (passing bars sorted by trade_date, ticker, ts) are bad prints.

    For x in (close, high, low): ``ln(x/prev)`` and ``ln(next/x)`` of opposite signs, both
    beyond ``ln(1 + threshold)``, prev and next being the neighbouring passing bars of the
    same (ticker, trade_date). In numpy over the already sorted frame: a DuckDB window for
    the same neighbours cost as much as the rest of the silver SQL.
    """
    import numpy as np
    n = len(good)
    if n < 3:
        return np.zeros(n, dtype=bool)
    ticker = good["ticker"].to_numpy()
    day = good["trade_date"].to_numpy()
    # same[i]: row i and row i + 1 belong to the same (ticker, trade_date)
    same = (ticker[1:] == ticker[:-1]) & (day[1:] == day[:-1])
    inner = same[:-1] & same[1:]  # rows 1 .. n-2 with both neighbours in their group
    limit = np.log1p(threshold)
    mask = np.zeros(n, dtype=bool)
    for column in ("close", "high", "low"):
        step = np.diff(np.log(good[column].to_numpy(dtype="float64")))  # step[i] = x[i+1] vs x[i]
        into, out_of = step[:-1], step[1:]
        mask[1:-1] |= inner & (into * out_of < 0) & (np.minimum(abs(into), abs(out_of)) > limit)
    return mask


def _quarantine_bad_prints(
    good: pd.DataFrame, bad: pd.DataFrame, threshold: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    import pandas as pd
    mask = bad_print_mask(good, threshold)
    if not mask.any():
        return good, bad
    prints = good[mask].assign(reason="bad_print")
    prints = prints.astype({"volume": bad["volume"].dtype}) if len(bad) else prints.astype(
        {"volume": "float64"})
    bad = pd.concat([bad, prints], ignore_index=True) if len(bad) else prints.reset_index(drop=True)
    bad = bad.sort_values(["trade_date", "ticker", "ts"], kind="stable", ignore_index=True)
    return good[~mask].reset_index(drop=True), bad


class PayloadError(ValueError):
    """A payload file that cannot be read as bars; ``reason`` is one of REJECTED_FILE_REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def check_canonical(bars: pd.DataFrame) -> None:
    """Raise :class:`PayloadError` if a ``BarSource.to_canonical`` result is not canonical bars.

    The adapters' contract, checked because a landed file can make them return anything: the
    canonical columns, ``ts`` a time-zone-aware timestamp, prices and volume numbers.
    """
    import pandas as pd
    missing = [c for c in CANONICAL_COLUMNS if c not in bars.columns]
    if missing:
        raise PayloadError("missing_columns", f"canonical columns missing: {missing}")
    ts = bars["ts"].dtype
    if not isinstance(ts, pd.DatetimeTZDtype):
        raise PayloadError("wrong_types", f"ts has type {ts}, expected a time-zone-aware timestamp")
    for column in ("open", "high", "low", "close", "volume"):
        dtype = bars[column].dtype
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            raise PayloadError("wrong_types", f"{column} has type {dtype}, expected a number")


def canonical_from_bronze(
    source: BarSource, tables: list[pa.Table], days: list[dt.date]
) -> pd.DataFrame:
    """Bronze payloads (``tables[i]`` holds trading day ``days[i]``) as canonical bars.

    Runs of payloads with one schema (normally all of them) are concatenated as Arrow and
    mapped by ``source.to_canonical`` once; converting and mapping file by file cost more than
    the silver SQL itself. Raises :class:`PayloadError` if the mapped frame is not canonical
    bars (``to_canonical``'s own errors propagate). Adds ``source``, ``ingested_at`` (the fetch time), ``trade_date``,
    and the payload order de-duplication breaks ties with: ``payload`` (the index of the file
    in ``tables``) and ``payload_row`` (the row's position in its file).
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    frames, start = [], 0
    for end in range(1, len(tables) + 1):
        if end == len(tables) or not tables[end].schema.equals(tables[start].schema):
            raw = pa.concat_tables(tables[start:end]).to_pandas()
            counts = [t.num_rows for t in tables[start:end]]
            bars = source.to_canonical(raw)
            check_canonical(bars)
            if list(bars.columns) != list(CANONICAL_COLUMNS):
                bars = bars[list(CANONICAL_COLUMNS)].copy()
            bars["source"] = source.name
            bars["ingested_at"] = pd.to_datetime(raw["_fetched_at"], utc=True).array
            bars["trade_date"] = np.repeat(np.array(days[start:end], dtype=object), counts)
            bars["payload"] = np.repeat(np.arange(start, end, dtype="int64"), counts)
            offsets = np.repeat(np.cumsum([0, *counts[:-1]]), counts)
            bars["payload_row"] = np.arange(len(raw), dtype="int64") - offsets
            frames.append(bars)
            start = end
    if not frames:
        return empty_canonical()
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
