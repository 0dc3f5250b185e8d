"""Deterministic, offline 1-minute bars on the real XNYS calendar.

The synthetic source drives the demo, the tests and the benchmarks, so it must be:

* deterministic: the same (seed, ticker, day) always gives the same bars, whatever else is
  fetched in the same call, so re-running a day reproduces it exactly;
* realistic enough to exercise the pipeline: a geometric random walk with an overnight gap,
  a U-shaped intraday volume curve, half days with fewer minutes, no bars on holidays;
* honest about time: it delivers only the minutes that have ended when it is asked
  (:func:`market_calendar.bar_has_ended`), so a session in the future gets no bars and the
  current session only its past minutes, each equal to the same minute of the full session;
* fast: one vectorised numpy pass per ticker and day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

from finks_assets.lib import market_calendar
from finks_assets.lib.sources.base import BarFetch, TickerOutcome
from finks_assets.lib.sources.synthetic_actions import price_multiplier
from finks_assets.lib.tickers import validate_tickers

_ANCHOR_EPOCH = dt.date(2015, 1, 2)
_DAILY_VOL = 0.015
_MINUTE_VOL = _DAILY_VOL / np.sqrt(390)


def _rng(*parts: object) -> np.random.Generator:
    """A generator seeded from a stable hash (Python's hash() is salted per process)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return np.random.default_rng(int.from_bytes(digest, "little"))


@lru_cache(maxsize=64)
def _anchor_days(until: dt.date) -> tuple[dt.date, ...]:
    """Session dates from the epoch to ``until``, shared by every ticker's anchor walk.

    Session labels come straight from the calendar: building full Session objects (open and
    close lookups) for ~2,800 days per ticker was the top cost of a backfill.
    """
    labels = market_calendar.calendar().sessions_in_range(
        pd.Timestamp(_ANCHOR_EPOCH), pd.Timestamp(until)
    )
    return tuple(label.date() for label in labels)


@lru_cache(maxsize=4096)
def _daily_anchors(seed: int, ticker: str, until: dt.date) -> dict[dt.date, float]:
    """Opening price per session: a daily random walk from a per-ticker starting level.

    Walking from a fixed epoch keeps any single day reproducible without generating the days
    before it bar by bar.
    """
    days = _anchor_days(until)
    rng = _rng(seed, ticker, "anchors")
    start_price = float(rng.uniform(20.0, 600.0))
    returns = rng.normal(0.0003, _DAILY_VOL, size=len(days))
    prices = start_price * np.exp(np.cumsum(returns))
    return dict(zip(days, prices.tolist(), strict=True))


class SyntheticSource:
    """1-minute bars generated from a seed; needs no network and no key."""

    name = "synthetic"

    def __init__(self, seed: int = 7, now: Callable[[], pd.Timestamp] | None = None) -> None:
        """``now`` is the clock the fetch obeys (injectable so tests can stand inside or
        before a session); by default the wall clock."""
        self.seed = seed
        self._now = now or (lambda: pd.Timestamp.now(tz="UTC"))

    def fetch_bars_1m(self, tickers: Sequence[str], days: Sequence[dt.date]) -> BarFetch:
        tickers = validate_tickers(tickers)
        now = self._now().tz_convert("UTC")
        fetch = BarFetch(source=self.name, fetched_at=now)
        sessions = [s for s in (market_calendar.session(day) for day in days) if s is not None]
        ended = [(s, market_calendar.completed_minutes(s, now)) for s in sessions]
        ended = [(s, n) for s, n in ended if n > 0]
        note = market_calendar.not_yet_open_note(sessions, now)
        for ticker in tickers:
            columns = [self._session_bars(ticker, s, n) for s, n in ended]
            raw = _frame(columns) if columns else _empty_raw()
            fetch.frames[ticker] = raw
            fetch.outcomes[ticker] = TickerOutcome(
                ticker=ticker, status="ok" if len(raw) else "empty", rows=len(raw), error=note
            )
        return fetch

    def _session_bars(
        self, ticker: str, session: market_calendar.Session, ended: int | None = None
    ) -> dict[str, np.ndarray]:
        """One session's bars as column arrays (one DataFrame per ticker is built from them).

        The whole session is generated and then cut to its first ``ended`` minutes, so a bar
        fetched during the session is the very bar a fetch after the close returns."""
        anchors = _daily_anchors(self.seed, ticker, _year_end(session.date))
        # Corporate actions move raw prices (a 4:1 split quarters them): synthetic_actions.py
        open_price = anchors[session.date] * price_multiplier(self.seed, ticker, session.date)
        n = session.minutes
        rng = _rng(self.seed, ticker, session.date.isoformat())
        log_steps = rng.normal(0.0, _MINUTE_VOL, size=n)
        closes = open_price * np.exp(np.cumsum(log_steps))
        opens = np.concatenate(([open_price], closes[:-1]))
        wick = np.abs(rng.normal(0.0, _MINUTE_VOL / 2, size=(2, n)))
        highs = np.maximum(opens, closes) * (1 + wick[0])
        lows = np.minimum(opens, closes) * (1 - wick[1])
        opens, highs, lows, closes = (np.round(a, 2) for a in (opens, highs, lows, closes))
        # Rounding to cents can break high >= open/close by a cent; restore the invariant.
        highs = np.maximum.reduce([highs, opens, closes])
        lows = np.minimum.reduce([lows, opens, closes])
        x = np.linspace(-1.0, 1.0, n)
        volume_curve = 1.0 + 2.0 * x**2  # heavy at the open and the close
        volumes = np.round(volume_curve * rng.lognormal(7.5, 0.5, size=n)).astype("int64")
        start = session.open_utc.as_unit("ns").asm8
        ts = start + np.arange(n, dtype="int64").astype("timedelta64[m]")
        columns = {"ts": ts, "open": opens, "high": highs, "low": lows, "close": closes,
                   "volume": volumes}
        return columns if ended is None else {k: v[:ended] for k, v in columns.items()}

    def to_canonical(self, raw: pd.DataFrame) -> pd.DataFrame:
        out = raw[["ts", "open", "high", "low", "close", "volume"]].copy()
        out.insert(0, "ticker", raw["_ticker"].astype(str))
        out["ts"] = pd.to_datetime(out["ts"], utc=True)
        return out


def _frame(sessions: list[dict[str, np.ndarray]]) -> pd.DataFrame:
    """Concatenate per-session column arrays once per ticker (cheaper than per-day frames)."""
    columns = {name: np.concatenate([s[name] for s in sessions]) for name in sessions[0]}
    columns["ts"] = pd.DatetimeIndex(columns["ts"].astype("datetime64[ns]")).tz_localize("UTC")
    return pd.DataFrame(columns)


def _year_end(day: dt.date) -> dt.date:
    """Anchor walks are cached per year so a long backfill reuses one walk per ticker."""
    return dt.date(day.year, 12, 31)


def _empty_raw() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ts": pd.Series([], dtype="datetime64[ns, UTC]"),
            **{c: pd.Series([], dtype="float64") for c in ("open", "high", "low", "close")},
            "volume": pd.Series([], dtype="int64"),
        }
    )
