"""Checks on silver 1-minute bars, independent of the code that produced them.

The silver transform already quarantines bad bars; these checks re-verify its *output* with
separate SQL, so a bug in the transform (or a file written by anything else) cannot reach
gold. Each returns the offending rows in its metadata so the UI names the culprits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from finks_assets import market_calendar

SAMPLE_ROWS = 20


@dataclass
class CheckOutcome:
    passed: bool
    failing_rows: int
    metadata: dict[str, object] = field(default_factory=dict)


def _query(sql: str, **tables: pd.DataFrame) -> pd.DataFrame:
    con = duckdb.connect(config={"threads": 2})
    try:
        con.execute("set TimeZone = 'UTC'")
        for name, frame in tables.items():
            con.register(name, frame)
        return con.execute(sql).df()
    finally:
        con.close()


def _outcome(offenders: pd.DataFrame, columns: list[str]) -> CheckOutcome:
    sample = offenders[columns].head(SAMPLE_ROWS).astype(str).to_dict(orient="records")
    return CheckOutcome(
        passed=offenders.empty,
        failing_rows=len(offenders),
        metadata={
            "failing_rows": len(offenders),
            "failing_tickers": sorted(offenders["ticker"].astype(str).unique().tolist())[:50],
            "sample": sample,
        },
    )


def check_ohlc_invariants(bars: pd.DataFrame) -> CheckOutcome:
    """high >= max(open, close), low <= min(open, close), prices > 0, volume >= 0."""
    offenders = _query(
        """
        select ticker, ts, open, high, low, close, volume from bars
        where not (high >= greatest(open, close) and low <= least(open, close)
                   and least(open, high, low, close) > 0 and volume >= 0)
           or open is null or high is null or low is null or close is null or volume is null
        """,
        bars=bars,
    )
    return _outcome(offenders, ["ticker", "ts", "open", "high", "low", "close", "volume"])


def check_unique_ticker_ts(bars: pd.DataFrame) -> CheckOutcome:
    """No two bars share (ticker, ts): the upsert key of every bar dataset."""
    offenders = _query(
        "select ticker, ts, count(*) as copies from bars group by ticker, ts having count(*) > 1",
        bars=bars,
    )
    return _outcome(offenders, ["ticker", "ts", "copies"])


def check_in_session(bars: pd.DataFrame, days: list[dt.date]) -> CheckOutcome:
    """Every bar starts inside its XNYS session [open, close), half days included."""
    offenders = _query(
        """
        select b.ticker, b.ts, b.trade_date, s.open_utc, s.close_utc
        from bars b left join sessions s on cast(b.trade_date as date) = s.trade_date
        where s.trade_date is null or b.ts < s.open_utc or b.ts >= s.close_utc
        """,
        bars=bars,
        sessions=market_calendar.sessions_frame(days),
    )
    return _outcome(offenders, ["ticker", "ts", "trade_date"])


def session_completeness(bars: pd.DataFrame, days: list[dt.date]) -> pd.DataFrame:
    """Bars per ticker and session against the session's minute count (per-ticker coverage)."""
    sessions = market_calendar.sessions_frame(days)
    sessions["expected_bars"] = (
        (sessions["close_utc"] - sessions["open_utc"]) / pd.Timedelta(minutes=1)
    ).astype("int64")
    return _query(
        """
        select b.ticker, s.trade_date, count(*) as bars, any_value(s.expected_bars) as expected_bars,
               round(count(*) / any_value(s.expected_bars), 4) as coverage
        from bars b join sessions s on cast(b.trade_date as date) = s.trade_date
        group by all order by coverage, b.ticker, s.trade_date
        """,
        bars=bars,
        sessions=sessions,
    )
