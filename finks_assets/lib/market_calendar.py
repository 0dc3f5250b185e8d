"""Exchange sessions from exchange_calendars (XNYS), the single source of market hours.

Half days (e.g. the day after Thanksgiving closes at 13:00 New York) and holidays come from
the calendar, never from hand-written rules. All times here are UTC; a bar is labelled by
its start (Yahoo's convention), so a regular session holds the minutes [open, close).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    import exchange_calendars as xcals

EXCHANGE = "XNYS"
EXCHANGE_TZ = "America/New_York"


@dataclass(frozen=True)
class Session:
    """One trading session: its date and its UTC open and close."""

    date: dt.date
    open_utc: pd.Timestamp
    close_utc: pd.Timestamp

    @property
    def minutes(self) -> int:
        return int((self.close_utc - self.open_utc) / pd.Timedelta(minutes=1))

    @property
    def is_half_day(self) -> bool:
        return self.minutes < 390


@cache
def calendar() -> xcals.ExchangeCalendar:
    """The XNYS calendar, built once per process (construction takes ~0.5 s).

    exchange_calendars is imported here, not at module level: importing it costs ~0.25-0.8 s
    (it loads every exchange's rules), and loading the Dagster definitions never needs it.
    """
    import exchange_calendars as xcals

    return xcals.get_calendar(EXCHANGE, start="2000-01-01")


def is_session(day: dt.date) -> bool:
    return bool(calendar().is_session(pd.Timestamp(day)))


def session(day: dt.date) -> Session | None:
    """The session on ``day``, or None when the market is closed (weekend or holiday)."""
    if not is_session(day):
        return None
    cal = calendar()
    ts = pd.Timestamp(day)
    return Session(
        date=day,
        open_utc=cal.session_open(ts).tz_convert("UTC"),
        close_utc=cal.session_close(ts).tz_convert("UTC"),
    )


def sessions_between(start: dt.date, end: dt.date) -> list[Session]:
    """All sessions with ``start <= date <= end``."""
    if end < start:
        return []
    labels = calendar().sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))
    return [s for s in (session(label.date()) for label in labels) if s is not None]


def last_completed_sessions(count: int, now: pd.Timestamp | None = None) -> list[Session]:
    """The ``count`` most recent sessions whose close is already in the past."""
    now = (now or pd.Timestamp.now(tz="UTC")).tz_convert("UTC")
    end = now.date()
    found: list[Session] = []
    start = end - dt.timedelta(days=max(14, count * 2))
    while len(found) < count:
        found = [s for s in sessions_between(start, end) if s.close_utc <= now]
        start -= dt.timedelta(days=14)
    return found[-count:]


def exchange_date(ts: pd.Series) -> pd.Series:
    """The New York calendar date of each UTC timestamp (the trading day a bar belongs to)."""
    return ts.dt.tz_convert(EXCHANGE_TZ).dt.date


def sessions_frame(days: list[dt.date]) -> pd.DataFrame:
    """A table of (trade_date, open_utc, close_utc) for the sessions among ``days``."""
    rows = [session(day) for day in days]
    return pd.DataFrame(
        {
            "trade_date": [s.date for s in rows if s],
            "open_utc": pd.to_datetime([s.open_utc for s in rows if s], utc=True),
            "close_utc": pd.to_datetime([s.close_utc for s in rows if s], utc=True),
        }
    )
