"""Coverage checks against the XNYS calendar: missing minutes and abnormal daily row counts.

Both normalise by the session's own length, so a 13:00 half day (210 minutes) is neither a
gap nor a row-count anomaly. Gaps are reported as minute ranges per ticker and session;
row counts are compared with the ticker's trailing median over earlier silver partitions.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from finks_assets.lib import market_calendar
from finks_assets.lib.quality.check_base import CheckDB, CheckOutcome, bars_db, outcome

if TYPE_CHECKING:
    import pandas as pd


def _sessions(days: list[dt.date]) -> pd.DataFrame:
    import pandas as pd
    sessions = market_calendar.sessions_frame(days)
    if sessions.empty:
        # No session at all (a holiday-only run or chunk without silver history): an empty
        # column would reach DuckDB as DOUBLE, which it refuses to compare with a DATE.
        sessions["trade_date"] = pd.Series([], dtype="datetime64[s]")
    sessions["minutes"] = (
        (sessions["close_utc"] - sessions["open_utc"]) / pd.Timedelta(minutes=1)
    ).astype("int64")
    return sessions


# Listing every minute of every session and anti-joining it with the bars cost ~0.6 s per
# million bars, nearly all for ticker-sessions that are complete; so ``complete`` finds those
# first: a session is complete exactly when the ticker's distinct minute-aligned timestamps
# inside it number the session's minutes. A session lies within one UTC day, which finds it
# by equality; epoch arithmetic, because DuckDB's time-zone-aware date_trunc and date cast
# cost ~1 s per million bars.
_GAPS_SQL = """
with complete as (
    select b.ticker, s.trade_date
    from bars b join (select *, epoch_us(open_utc) // $1 as utc_day from sessions) s
      on epoch_us(b.ts) // $1 = s.utc_day
    where b.ts >= s.open_utc and b.ts < s.close_utc and epoch_us(b.ts) % $2 = 0
      and (b.ticker_pos = 1 or b.ts is distinct from b.prev_ts)  -- each distinct ts once
    group by b.ticker, s.trade_date having count(*) = any_value(s.minutes)
),
expected as (
    select p.ticker, s.trade_date, s.minutes,
           unnest(range(s.open_utc, s.close_utc, interval 1 minute)) as ts
    from ticker_days p join sessions s on p.trade_date = s.trade_date
    where not exists (
        select 1 from complete c where c.ticker = p.ticker and c.trade_date = s.trade_date
    )
),
missing as (
    select e.* from expected e
    anti join bars b on b.ticker = e.ticker and b.ts = e.ts
),
islands as (
    select *, epoch(ts) // 60 - row_number() over (partition by ticker, trade_date order by ts)
              as island
    from missing
),
gaps as (
    select ticker, trade_date, any_value(minutes) as session_minutes,
           min(ts) as gap_start, max(ts) as gap_end, count(*) as missing_minutes
    from islands group by ticker, trade_date, island
)
select *, sum(missing_minutes) over (partition by ticker, trade_date) as missing_in_session
from gaps order by ticker, trade_date, gap_start
"""
_US_PER_DAY, _US_PER_MINUTE = 86_400_000_000, 60_000_000


# Bars per ticker and trading day: the gaps and row-count checks both start from it.
_TICKER_DAYS_SQL = """
select ticker, cast(trade_date as date) as trade_date, count(*) as bars from bars group by all
"""


def check_intraday_gaps(
    bars: pd.DataFrame | CheckDB, days: list[dt.date], max_missing_minutes: int = 0
) -> CheckOutcome:
    """Each ticker that traded in a session has a bar for every minute of it.

    A ticker-session fails when more than ``max_missing_minutes`` minutes are missing; the
    metadata lists the missing minutes as ranges (``gap_start``..``gap_end``, inclusive).
    """
    sessions = _sessions(days)
    with bars_db(bars) as db:
        db.materialize("ticker_days", _TICKER_DAYS_SQL)
        gaps = db.query(_GAPS_SQL, [_US_PER_DAY, _US_PER_MINUTE], sessions=sessions)
    failing = gaps[gaps["missing_in_session"] > max_missing_minutes].reset_index(drop=True)
    per_session = (
        failing.groupby(["ticker", "trade_date"], as_index=False)
        .agg(missing_minutes=("missing_minutes", "sum"), session_minutes=("session_minutes", "first"))
    )
    return outcome(
        failing, ["ticker", "trade_date", "gap_start", "gap_end", "missing_minutes"],
        failing_rows=int(failing["missing_minutes"].sum()),
        incomplete_ticker_sessions=len(per_session),
        max_missing_minutes=max_missing_minutes,
    )


_ROW_COUNT_SQL = """
with current_counts as (
    select ticker, trade_date, bars from ticker_days
),
tickers as (
    select distinct ticker from current_counts union select distinct ticker from history
),
current_days as (
    select t.ticker, s.trade_date, coalesce(c.bars, 0) as bars
    from tickers t cross join sessions s
    left join current_counts c on c.ticker = t.ticker and c.trade_date = s.trade_date
    where s.trade_date in (select day from window_days)
),
daily as (
    select * from current_days
    union all
    select ticker, cast(trade_date as date), bars from history
    where cast(trade_date as date) not in (select day from window_days)
),
scored as (
    select d.ticker, d.trade_date, d.bars, s.minutes,
           d.bars / s.minutes as coverage,
           median(d.bars / s.minutes) over w as trailing_median,
           count(*) over w as history_sessions
    from daily d join sessions s on d.trade_date = s.trade_date
    window w as (partition by d.ticker order by d.trade_date
                 rows between $1 preceding and 1 preceding)
)
select ticker, trade_date, bars, minutes as session_minutes,
       round(trailing_median * minutes) as expected_bars,
       round(coverage / nullif(trailing_median, 0), 3) as ratio, history_sessions
from scored
where trade_date in (select day from window_days)
  and history_sessions >= $2
  and (coverage < trailing_median * $3 or coverage > trailing_median * $4)
order by ticker, trade_date
"""


def check_row_count_anomaly(
    bars: pd.DataFrame | CheckDB,
    days: list[dt.date],
    history: pd.DataFrame,
    trailing_sessions: int = 20,
    min_history_sessions: int = 3,
    min_ratio: float = 0.5,
    max_ratio: float = 1.5,
) -> CheckOutcome:
    """Bars per ticker and day against that ticker's trailing median, per session minute.

    ``history`` holds (ticker, trade_date, bars) for earlier sessions (read from previous silver
    partitions). Days of the current window also count as history for later days of it.
    A ticker seen in history but absent today counts as 0 bars. With fewer than
    ``min_history_sessions`` earlier sessions the check cannot judge and passes.
    """
    import pandas as pd
    history = history if len(history) else pd.DataFrame(
        {"ticker": pd.Series([], dtype="string"), "trade_date": pd.Series([], dtype="object"),
         "bars": pd.Series([], dtype="int64")}
    )
    all_days = sorted({*days, *pd.to_datetime(history["trade_date"]).dt.date})
    with bars_db(bars) as db:
        db.materialize("ticker_days", _TICKER_DAYS_SQL)
        offenders = db.query(
            _ROW_COUNT_SQL,
            [trailing_sessions, min_history_sessions, min_ratio, max_ratio],
            history=history, sessions=_sessions(all_days),
            window_days=pd.DataFrame({"day": pd.to_datetime(pd.Series(days)).dt.date}),
        )
    return outcome(
        offenders, ["ticker", "trade_date", "bars", "expected_bars", "ratio"],
        history_sessions=len({*pd.to_datetime(history["trade_date"]).dt.date}),
        bounds=f"{min_ratio} .. {max_ratio} x trailing median",
    )
