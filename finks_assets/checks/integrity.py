"""Blocking integrity checks: values a bar can never have, and keys that must be unique.

These re-verify the silver transform's *output* with separate SQL, so a bug in the transform
(or a file written by anything else) cannot reach gold. They share the quarantine's rule
names so a user sees the same word in the check, the report and the quarantine table.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from finks_assets import market_calendar
from finks_assets.checks.base import BAR_COLUMNS, CheckDB, CheckOutcome, bars_db, outcome
from finks_assets.checks.ordering import epoch_ints, floats

_VALUE_VIOLATIONS_SQL = """
select * from (
select ticker, ts, trade_date, open, high, low, close, volume,
       case
         when open is null or high is null or low is null or close is null or volume is null
              or not isfinite(open) or not isfinite(high) or not isfinite(low)
              or not isfinite(close) then 'null_field'
         when least(open, high, low, close) <= 0 then 'non_positive_price'
         when volume < 0 then 'negative_volume'
         when high < greatest(open, close) or low > least(open, close) then 'ohlc_invariant'
       end as rule
from candidates
) where rule is not null
"""
_PRICES = ["open", "high", "low", "close"]


def _may_break_a_value_rule(db: CheckDB) -> np.ndarray:
    """Rows that may break a value rule: a NumPy superset, so SQL judges only those rows.

    Evaluating the rules' CASE in DuckDB for every bar cost ~0.2 s per million bars; almost
    every bar passes all of them.
    """
    try:
        o, h, low, c, v = (floats(db.table, name) for name in [*_PRICES, "volume"])
    except (pa.ArrowException, TypeError, ValueError):
        return np.ones(db.table.num_rows, dtype=bool)  # not numeric: let SQL judge every row
    with np.errstate(invalid="ignore"):
        return (
            ~(np.isfinite(o) & np.isfinite(h) & np.isfinite(low) & np.isfinite(c) & np.isfinite(v))
            | (np.minimum.reduce([o, h, low, c]) <= 0) | (v < 0)
            | (h < np.maximum(o, c)) | (low > np.minimum(o, c))
        )


def value_violations(bars: pd.DataFrame | CheckDB) -> pd.DataFrame:
    """Every bar breaking a value rule, with the first rule it breaks (one scan for 3 checks)."""
    with bars_db(bars) as db:
        suspects = np.flatnonzero(_may_break_a_value_rule(db))
        return db.query(_VALUE_VIOLATIONS_SQL, candidates=db.rows(suspects, db.table.column_names))


def check_ohlc_invariants(bars: pd.DataFrame | CheckDB, violations: pd.DataFrame | None = None) -> CheckOutcome:
    """high >= max(open, close) and low <= min(open, close); no missing or infinite field."""
    bad = value_violations(bars) if violations is None else violations
    bad = bad[bad["rule"].isin(["ohlc_invariant", "null_field"])]
    return outcome(bad, [*BAR_COLUMNS, "rule"])


def check_positive_prices(bars: pd.DataFrame | CheckDB, violations: pd.DataFrame | None = None) -> CheckOutcome:
    """Every price is > 0: a zero or negative price is a vendor or unit error, never a trade."""
    bad = value_violations(bars) if violations is None else violations
    return outcome(bad[bad["rule"] == "non_positive_price"], BAR_COLUMNS)


def check_non_negative_volume(
    bars: pd.DataFrame | CheckDB, violations: pd.DataFrame | None = None
) -> CheckOutcome:
    """Volume is >= 0 (zero is legal: a minute without trades)."""
    bad = value_violations(bars) if violations is None else violations
    return outcome(bad[bad["rule"] == "negative_volume"], BAR_COLUMNS)


def check_unique_ticker_ts(bars: pd.DataFrame | CheckDB) -> CheckOutcome:
    """No two bars share (ticker, ts): the upsert key of every bar dataset.

    Duplicates are neighbours in (ticker, ts) order; each is reported once, on its first
    stored copy, with the number of copies.
    """
    with bars_db(bars) as db:
        order = db.order
        sorted_ts = order.ts_raw[order.by_ticker_ts]
        valid = order.ts_valid[order.by_ticker_ts]
        repeat = order.same_ticker_as_previous.copy()
        repeat[1:] &= (sorted_ts[1:] == sorted_ts[:-1]) & (valid[1:] == valid[:-1])
        first = np.flatnonzero(~repeat)  # positions where a (ticker, ts) key starts
        copies = np.diff(np.append(first, order.n))
        keep = copies > 1
        picked = db.rows(order.by_ticker_ts[first[keep]], ["ticker", "ts", "trade_date"],
                         copies=pa.array(copies[keep], type=pa.int64()))
        offenders = db.query("select * from picked order by ticker, ts", picked=picked)
    return outcome(offenders, ["ticker", "ts", "copies"],
                   failing_rows=int((offenders["copies"] - 1).sum()))


def check_monotonic_ts(bars: pd.DataFrame | CheckDB) -> CheckOutcome:
    """Within a ticker, stored rows go forward in time (readers rely on the file order).

    Equal timestamps are the unique check's business; this one flags a bar stored *after* a
    later bar of the same ticker.
    """
    with bars_db(bars) as db:
        order = db.order
        previous, has_previous = order.previous_max_ts()
        late = np.flatnonzero(order.ts_valid & has_previous & (order.ts_raw < previous))
        picked = db.rows(late, ["ticker", "ts", "trade_date"],
                         previous_ts=order.ts_array(previous[late]))
        offenders = db.query("select * from picked", picked=picked)
    return outcome(offenders, ["ticker", "ts", "previous_ts"])


def _outside_session(db: CheckDB, sessions: pd.DataFrame) -> np.ndarray:
    """Per bar: its trade_date is no session, or its ts lies outside that session.

    Computed in NumPy from the values DuckDB sees (its date cast, its microseconds), so the
    SQL join that names the offenders runs over those bars only, not over every bar.
    """
    got = db.con.execute(
        "select datediff('day', date '1970-01-01', cast(trade_date as date)) as day,"
        " epoch_us(ts) as us from bars"
    ).fetchnumpy()
    day, us = (np.ma.getdata(got[k]).astype(np.int64) for k in ("day", "us"))
    day_valid, us_valid = (~np.ma.getmaskarray(got[k]) for k in ("day", "us"))
    session_days = np.array([(d - dt.date(1970, 1, 1)).days for d in sessions["trade_date"]],
                            dtype=np.int64)
    if not len(session_days):
        return np.ones(len(day), dtype=bool)
    opens, closes = epoch_ints(sessions["open_utc"], "us"), epoch_ints(sessions["close_utc"], "us")
    by_day = np.argsort(session_days)
    at = by_day[np.clip(np.searchsorted(session_days[by_day], day), 0, len(by_day) - 1)]
    matched = day_valid & (session_days[at] == day)
    return ~matched | (us_valid & ((us < opens[at]) | (us >= closes[at])))


def check_in_session(bars: pd.DataFrame | CheckDB, days: list[dt.date]) -> CheckOutcome:
    """Every bar starts inside its XNYS session [open, close), half days included."""
    sessions = market_calendar.sessions_frame(days)
    with bars_db(bars) as db:
        outside = np.flatnonzero(_outside_session(db, sessions))
        offenders = db.query(
            """
            select b.ticker, b.ts, b.trade_date, s.open_utc, s.close_utc
            from candidates b left join sessions s on cast(b.trade_date as date) = s.trade_date
            where s.trade_date is null or b.ts < s.open_utc or b.ts >= s.close_utc
            order by b.ticker, b.ts
            """,
            sessions=sessions,
            candidates=db.rows(outside, ["ticker", "ts", "trade_date"]),
        )
    return outcome(offenders, ["ticker", "ts", "trade_date"])
