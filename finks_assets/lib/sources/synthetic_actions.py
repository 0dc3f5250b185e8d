"""The synthetic source's corporate actions: a deterministic schedule of splits and dividends.

Two consumers need the *same* schedule, so it lives here, free of any bar or fetch code:

* the synthetic bar generator (``synthetic.py``) multiplies each session's opening anchor by
  :func:`price_multiplier`, so its raw prices really fall to a quarter on a 4:1 split's
  ex-date and by the dividend yield on a dividend's ex-date. Without that, an adjustment test
  on synthetic data would "adjust" prices that never moved, and prove nothing;
* the synthetic corporate-actions adapter (``corporate_actions/synthetic_adapter.py``) turns
  the schedule into vendor-like events.

The schedule is a function of (seed, ticker, session index) only (the session index counts
XNYS sessions from the synthetic epoch), so the same ticker gets the same events whatever else
is fetched, as the bars do. About half the tickers are "eventful"; an eventful ticker runs a
10-session cycle from its phase: a 4:1 split, a cash dividend two sessions later, a 1:4
reverse split five sessions after the split, and another dividend two sessions after that.
Splits alternate with reverse splits, and the price recovers a dividend at the next split, so
that prices stay bounded over a years-long backfill (a 4:1 split every ten sessions alone
would take a price to zero within a year). Each
eventful ticker therefore has one split and one dividend in every 5 consecutive sessions; the
default universe covers a 4:1 split in every window of 5 sessions (tested), which is what
``make demo`` needs to show one.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from finks_assets.lib import market_calendar

EPOCH = dt.date(2015, 1, 2)  # the synthetic anchor walk's epoch (synthetic._ANCHOR_EPOCH)
# No synthetic actions before this session: the bars of earlier sessions stay exactly what
# they were before corporate actions existed, so the checks' equivalence corpus, the quality
# corpus and the benchmarks (fixed 2025 windows) keep their data, while the demo's window (the
# last 5 sessions) shows actions. Each eventful ticker starts its cycle at its first 4:1 split
# on or after this day, so the prices change exactly on reported ex-dates.
ACTIONS_START = dt.date(2026, 1, 2)
CYCLE = 10  # sessions
SPLIT_AT, REVERSE_AT = 0, 5  # cycle positions of the 4:1 split and the 1:4 reverse split
DIVIDEND_AT = (2, 7)  # cycle positions of the cash dividends
SPLIT_RATIO = 4.0  # new shares per old share of the forward split
DIVIDEND_YIELD = 0.004  # cash per share as a fraction of the previous close (0.4%)


@dataclass(frozen=True)
class ScheduledAction:
    ticker: str
    ex_date: dt.date
    kind: str  # "split" or "cash_dividend"
    split_ratio: float | None  # new shares per old share (4.0 for 4:1, 0.25 for 1:4)


def _digest(*parts: object) -> int:
    """A stable hash (Python's hash() is salted per process)."""
    raw = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(raw, "little")


@lru_cache(maxsize=4096)
def phase(seed: int, ticker: str) -> int | None:
    """The ticker's cycle phase in sessions, or None when it has no corporate actions."""
    h = _digest(seed, ticker, "corporate_actions")
    return None if h % 2 else (h // 2) % CYCLE


@lru_cache(maxsize=64)  # one per year since the epoch (8 thrashed: 12 years)
def _session_labels(until_year: int) -> tuple[dt.date, ...]:
    """Session dates from the epoch to the end of ``until_year``, as plain dates: indexing a
    pandas DatetimeIndex one element at a time was 90% of a synthetic fetch."""
    labels = market_calendar.calendar().sessions_in_range(
        pd.Timestamp(EPOCH), pd.Timestamp(dt.date(until_year, 12, 31)))
    return tuple(label.date() for label in labels)


def session_index(day: dt.date) -> int | None:
    """Position of ``day`` among XNYS sessions since :data:`EPOCH` (None if not a session)."""
    labels = _session_labels(day.year)
    position = bisect.bisect_left(labels, day)
    if position >= len(labels) or labels[position] != day:
        return None
    return position


def _first_split_index(p: int) -> int:
    """Session index of the ticker's first 4:1 split on or after :data:`ACTIONS_START`."""
    start = session_index(ACTIONS_START)
    assert start is not None, "ACTIONS_START must be a session"
    return start + (p - start) % CYCLE


def price_multiplier(seed: int, ticker: str, day: dt.date) -> float:
    """What the ticker's synthetic prices are multiplied by on ``day``.

    1/4 from a 4:1 split until the next reverse split, and (1 - yield) from a dividend's
    ex-date until the next split of either kind, where the price "recovers" the dividend: a
    compounded drop per dividend would shrink every price tenfold over the epoch's 12 years.
    """
    p = phase(seed, ticker)
    index = session_index(day)
    if p is None or index is None or index < _first_split_index(p):
        return 1.0
    # The same position table holds from the epoch's first session on, so the multiplier
    # changes exactly on the ex-dates actions_between() reports.
    position = (index - p) % CYCLE
    split = 1.0 / SPLIT_RATIO if position < REVERSE_AT else 1.0
    paid = position % REVERSE_AT >= DIVIDEND_AT[0]
    return split * ((1.0 - DIVIDEND_YIELD) if paid else 1.0)


def actions_between(seed: int, ticker: str, start: dt.date, end: dt.date) -> list[ScheduledAction]:
    """The ticker's scheduled actions with an ex-date in [start, end], oldest first."""
    p = phase(seed, ticker)
    if p is None:
        return []
    labels = _session_labels(end.year)
    first = max(_first_split_index(p), bisect.bisect_left(labels, max(start, EPOCH)))
    last = bisect.bisect_right(labels, end)
    events = []
    for index in range(first, last):  # session labels, not Session objects: ~100x cheaper
        position = (index - p) % CYCLE
        day = labels[index]
        if position == SPLIT_AT:
            events.append(ScheduledAction(ticker, day, "split", SPLIT_RATIO))
        elif position == REVERSE_AT:
            events.append(ScheduledAction(ticker, day, "split", 1.0 / SPLIT_RATIO))
        elif position in DIVIDEND_AT:
            events.append(ScheduledAction(ticker, day, "cash_dividend", None))
    return events


def previous_session(day: dt.date) -> dt.date:
    """The session before the session ``day``."""
    index = session_index(day)
    if index is None or index == 0:
        raise ValueError(f"{day} is not a session after the synthetic epoch {EPOCH}")
    return _session_labels(day.year)[index - 1]
