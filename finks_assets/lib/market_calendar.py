"""Exchange sessions from exchange_calendars (XNYS), the single source of market hours.

Half days (e.g. the day after Thanksgiving closes at 13:00 New York) and holidays come from
the calendar, never from hand-written rules. All times here are UTC; a bar is labelled by
its start (Yahoo's convention), so a regular session holds the minutes [open, close).

It also holds the one rule every source obeys about time (:func:`bar_has_ended`): a bar
exists only once its interval has ended, so no source ever delivers bars for a session (or
the part of a session) that has not happened yet.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import exchange_calendars as xcals
    import pandas as pd

EXCHANGE = "XNYS"
EXCHANGE_TZ = "America/New_York"
CALENDAR_START = dt.date(2000, 1, 1)
# How far ahead the calendar (and so the partitions' holiday exclusions) reaches: to the end of
# the year HORIZON_YEARS from the year the process started. Year-aligned on purpose: the
# partitions definition (whose identity includes its exclusions) then changes only on 1 January,
# not on every restart; a code location restarted at least once every few years never sees a
# holiday past the horizon become a partition.
HORIZON_YEARS = 3
BAR_1M = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Session:
    """One trading session: its date and its UTC open and close."""

    date: dt.date
    open_utc: pd.Timestamp
    close_utc: pd.Timestamp

    @property
    def minutes(self) -> int:
        return int((self.close_utc - self.open_utc) / BAR_1M)

    @property
    def is_half_day(self) -> bool:
        return self.minutes < 390


def calendar_end(today: dt.date | None = None) -> dt.date:
    """The last day the calendar covers: 31 December, :data:`HORIZON_YEARS` years ahead."""
    return dt.date((today or dt.date.today()).year + HORIZON_YEARS, 12, 31)


@cache
def calendar() -> xcals.ExchangeCalendar:
    """The XNYS calendar from 2000 to :func:`calendar_end`, built once per process.

    Loading the Dagster definitions builds it (the partitions exclude its holidays), and the
    runs reuse it. exchange_calendars is imported here, not at module level, so modules that
    only need the constants stay cheap to import. Measured on the shared 2-core box: the import
    costs ~0.4-1.1 s (it loads every exchange's rules) and construction ~0.35 s, whatever the
    end year (2027 or 2029).
    """
    import exchange_calendars as xcals

    return xcals.get_calendar(
        EXCHANGE, start=CALENDAR_START.isoformat(), end=calendar_end().isoformat()
    )


def closed_weekdays(start: dt.date, end: dt.date) -> list[dt.date]:
    """Weekdays in [start, end] without a session: the exchange holidays (regular and ad hoc,
    e.g. a national day of mourning), exactly the complement of :func:`is_session` on weekdays."""
    import pandas as pd
    weekdays = pd.bdate_range(pd.Timestamp(start), pd.Timestamp(end))
    closed = weekdays.difference(calendar().sessions_in_range(weekdays[0], weekdays[-1]))
    return [ts.date() for ts in closed]


def is_session(day: dt.date) -> bool:
    import pandas as pd
    return bool(calendar().is_session(pd.Timestamp(day)))


def session(day: dt.date) -> Session | None:
    """The session on ``day``, or None when the market is closed (weekend or holiday)."""
    import pandas as pd
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
    import pandas as pd
    if end < start:
        return []
    labels = calendar().sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))
    return [s for s in (session(label.date()) for label in labels) if s is not None]


def last_completed_sessions(count: int, now: pd.Timestamp | None = None) -> list[Session]:
    """The ``count`` most recent sessions whose close is already in the past."""
    import pandas as pd
    now = (now or pd.Timestamp.now(tz="UTC")).tz_convert("UTC")
    end = now.date()
    found: list[Session] = []
    start = end - dt.timedelta(days=max(14, count * 2))
    while len(found) < count:
        found = [s for s in sessions_between(start, end) if has_closed(s, now)]
        start -= dt.timedelta(days=14)
    return found[-count:]


def bar_has_ended(
    start: pd.Timestamp | pd.Series, now: pd.Timestamp, length: dt.timedelta = BAR_1M
) -> bool | pd.Series:
    """THE rule about time, for every source: a bar labelled ``start`` covering ``length``
    exists only once ``start + length <= now``.

    A 1-minute bar still forming (Yahoo sends it during the session) is not a bar yet; a daily
    bar (start = open, length = the session) exists only after the close. A source applies it
    with the time of its own fetch, so a session in the future yields no bars at all.
    """
    return start + length <= now


def completed_minutes(session: Session, now: pd.Timestamp) -> int:
    """How many of ``session``'s 1-minute bars have ended by ``now`` (:func:`bar_has_ended`):
    0 before the open and during its first minute, all of them once the session has closed."""
    if not bar_has_ended(session.open_utc, now):
        return 0
    return min(session.minutes, int((now - session.open_utc) // BAR_1M))


def has_closed(session: Session, now: pd.Timestamp) -> bool:
    """Whether the session's daily bar exists at ``now`` (:func:`bar_has_ended` with the whole
    session as the bar): an end-of-day row fetched before the close is a partial bar."""
    return bool(bar_has_ended(session.open_utc, now, session.close_utc - session.open_utc))


def not_yet_open_note(sessions: list[Session], now: pd.Timestamp) -> str | None:
    """The outcome message for the sessions that have no ended bar at ``now`` (None if none):
    the audit shows it next to their 'empty' rows, so an empty future day is never a mystery."""
    future = [s for s in sessions if completed_minutes(s, now) == 0]
    if not future:
        return None
    first, last = future[0], future[-1]
    span = first.date.isoformat() if first is last else f"{first.date}..{last.date}"
    stamp = "%Y-%m-%d %H:%M UTC"
    return (
        f"{len(future)} session(s) {span} had not started at {now.tz_convert('UTC'):{stamp}} "
        f"(the first opens {first.open_utc:{stamp}}): no bars exist yet"
    )


def exchange_date(ts: pd.Series) -> pd.Series:
    """The New York calendar date of each UTC timestamp (the trading day a bar belongs to)."""
    return ts.dt.tz_convert(EXCHANGE_TZ).dt.date


def sessions_frame(days: list[dt.date]) -> pd.DataFrame:
    """A table of (trade_date, open_utc, close_utc) for the sessions among ``days``."""
    import pandas as pd
    rows = [session(day) for day in days]
    return pd.DataFrame(
        {
            "trade_date": [s.date for s in rows if s],
            "open_utc": pd.to_datetime([s.open_utc for s in rows if s], utc=True),
            "close_utc": pd.to_datetime([s.close_utc for s in rows if s], utc=True),
        }
    )
