"""Yahoo Finance 1-minute bars through yfinance.

We drive yfinance's own API (``Ticker.history``) rather than calling Yahoo's chart endpoint
ourselves, so yfinance keeps owning the cookie/crumb handshake and Yahoo's payload quirks.
What this adapter adds is what a scheduled pipeline needs and yfinance does not do:

* Yahoo's 1-minute limits: at most 7 days per request (Yahoo refuses more than 8) and only the
  last 30 days. Days are split into chunks, and days beyond the 30-day horizon are never asked
  for; the outcome says so instead of letting Yahoo answer with an opaque 422.
* bounded, exponential backoff on rate limiting (``YFRateLimitError``, i.e. HTTP 429);
* per-ticker isolation: one bad symbol becomes an ``error``/``empty`` outcome, never an
  exception that costs the other tickers their data;
* no bar before it has ended (:func:`market_calendar.bar_has_ended`): a session that has not
  opened is not requested (its outcome says so), and the minute still forming, which Yahoo
  sends during the session, is dropped: it is not a bar yet, and the fetch after the close
  brings the final one.

Bronze keeps yfinance's frame as received (``Datetime`` in New York time, vendor column
names); :meth:`YFinanceSource.to_canonical` is the only place that knows its shape.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

import pandas as pd
import requests
import yfinance as yf
from yfinance.exceptions import YFPricesMissingError, YFRateLimitError

from finks_assets.lib import market_calendar
from finks_assets.lib.market_calendar import EXCHANGE_TZ
from finks_assets.lib.sources.base import CANONICAL_COLUMNS, BarFetch, SourceError, TickerOutcome
from finks_assets.lib.tickers import validate_ticker

MAX_SPAN = pd.Timedelta(days=7)  # per request; Yahoo itself refuses more than 8 days of 1m
HORIZON = pd.Timedelta(days=30)  # Yahoo serves 1m bars for the last 30 days only
PRICE_COLUMNS = ("Open", "High", "Low", "Close")
_URL = re.compile(r"https?://[^\s'\"<>]+")


class RateLimitedError(SourceError):
    """Yahoo kept answering 429 after every allowed attempt."""


def _day_start(day: dt.date) -> pd.Timestamp:
    """Midnight in New York: the day boundaries Yahoo's exchange-local data uses."""
    return pd.Timestamp(day).tz_localize(EXCHANGE_TZ)


def chunk_days(days: Sequence[dt.date]) -> list[list[dt.date]]:
    """Group sorted days so that each group's [first midnight, day-after-last midnight) window
    spans at most :data:`MAX_SPAN` (a DST change can make 7 calendar days 169 hours)."""
    chunks: list[list[dt.date]] = []
    for day in sorted(set(days)):
        if (
            chunks
            and _day_start(day + dt.timedelta(days=1)) - _day_start(chunks[-1][0]) <= MAX_SPAN
        ):
            chunks[-1].append(day)
        else:
            chunks.append([day])
    return chunks


def public_message(exc: BaseException) -> str:
    """A short, loggable description: URLs lose their query string (which carries yfinance's
    crumb), whitespace is collapsed and the text is capped."""

    def strip(match: re.Match[str]) -> str:
        parts = urlsplit(match.group(0))
        return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"

    text = " ".join(_URL.sub(strip, str(exc)).split())
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


def empty_raw() -> pd.DataFrame:
    """The vendor frame of a ticker that got no bars, so frames always concatenate cleanly."""
    return pd.DataFrame(
        {
            "Datetime": pd.Series([], dtype=f"datetime64[ns, {EXCHANGE_TZ}]"),
            **{c: pd.Series([], dtype="float64") for c in (*PRICE_COLUMNS, "Adj Close")},
            "Volume": pd.Series([], dtype="int64"),
        }
    )


def _utc_now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


class YFinanceSource:
    """1-minute bars from Yahoo Finance via yfinance (no key; last 30 days only)."""

    name = "yfinance"

    def __init__(
        self,
        *,
        session: requests.Session | None = None,
        max_attempts: int = 4,
        backoff_seconds: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], pd.Timestamp] | None = None,
    ) -> None:
        """``session`` is handed to yfinance (None lets yfinance build its own curl_cffi one);
        ``sleep`` and ``now`` are injectable so tests neither wait nor depend on the date."""
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._session = session
        self._max_attempts = max_attempts
        self._backoff_seconds = backoff_seconds
        self._sleep = sleep
        self._now = now or _utc_now

    def fetch_bars_1m(self, tickers: Sequence[str], days: Sequence[dt.date]) -> BarFetch:
        symbols = list(dict.fromkeys(validate_ticker(t) for t in tickers))
        now = self._now().tz_convert("UTC")
        fetch = BarFetch(source=self.name, fetched_at=now)
        oldest = now - HORIZON
        recent = [d for d in sorted(set(days)) if _day_start(d) >= oldest]
        too_old = sorted(set(days) - set(recent))
        upcoming = _not_started(recent, now)
        notes = [market_calendar.not_yet_open_note(upcoming, now)] if upcoming else []
        if too_old:
            notes.insert(0,
                f"yfinance only serves 1-minute bars for the last 30 days: {len(too_old)} day(s) "
                f"from {too_old[0]} to {too_old[-1]} are older than {oldest.date()} and were not "
                "requested")
        note = "; ".join(n for n in notes if n) or None
        chunks = chunk_days([d for d in recent if d not in {s.date for s in upcoming}])
        for symbol in symbols:
            if not chunks:
                fetch.frames[symbol] = empty_raw()
                status = "error" if too_old else "empty"
                fetch.outcomes[symbol] = TickerOutcome(symbol, status, 0, note)
                continue
            raw, error = self._fetch_ticker(symbol, chunks)
            raw = _ended_bars(raw, now)
            fetch.frames[symbol] = raw
            if error is not None:
                fetch.outcomes[symbol] = TickerOutcome(symbol, "error", len(raw), error)
            else:
                status = "ok" if len(raw) else "empty"
                fetch.outcomes[symbol] = TickerOutcome(symbol, status, len(raw), note)
        return fetch

    def _fetch_ticker(
        self, symbol: str, chunks: list[list[dt.date]]
    ) -> tuple[pd.DataFrame, str | None]:
        """All chunks of one ticker; stops at the first failing chunk and keeps what came before,
        since bronze stores whatever was received. Catches everything on purpose: isolation."""
        ticker = yf.Ticker(symbol, session=self._session)
        frames: list[pd.DataFrame] = []
        for chunk in chunks:
            start, end = _day_start(chunk[0]), _day_start(chunk[-1] + dt.timedelta(days=1))
            try:
                history = self._with_backoff(lambda s=start, e=end: self._history(ticker, s, e))
            except YFPricesMissingError as exc:
                if exc.yahoo_reason is None:
                    continue  # a valid answer without bars, as Yahoo sends for a day with no trades
                return _concat(frames), _describe(chunk, exc)  # Yahoo said why, e.g. delisted
            except Exception as exc:  # deliberately broad: one ticker must never sink the others
                return _concat(frames), _describe(chunk, exc)
            if not history.empty:
                frames.append(history.reset_index())
        return _concat(frames), None

    @staticmethod
    def _history(ticker: yf.Ticker, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        # keepna keeps Yahoo's null bars so silver can quarantine them instead of losing them;
        # raise_errors turns yfinance's logged failures into exceptions we can classify.
        return ticker.history(
            start=start,
            end=end,
            interval="1m",
            prepost=False,
            auto_adjust=False,
            actions=False,
            keepna=True,
            raise_errors=True,
        )

    def _with_backoff(self, call: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """Retry on 429 only, waiting backoff, 2x backoff, 4x backoff ... between attempts."""
        for attempt in range(1, self._max_attempts + 1):
            try:
                return call()
            except YFRateLimitError:
                if attempt == self._max_attempts:
                    break
                self._sleep(self._backoff_seconds * 2 ** (attempt - 1))
        raise RateLimitedError(
            f"rate limited by Yahoo (HTTP 429 Too Many Requests) on all {self._max_attempts} attempts"
        )

    def to_canonical(self, raw: pd.DataFrame) -> pd.DataFrame:
        """Vendor columns -> canonical bars. yfinance labels a bar by its start, in exchange time.

        Prices stay float with NaN for Yahoo's null bars, so silver can quarantine them. Volume
        is float64 as received (NaN when missing, fractions kept), so silver judges it: a cast
        to integers here would silently truncate 1.5 to 1. Note that yfinance's ``history()``
        itself already fills missing volume with 0, so a null bar from this source arrives as
        NaN prices with volume 0.
        """
        if raw.empty:
            return pd.DataFrame(
                {
                    "ticker": pd.Series([], dtype=object),
                    "ts": pd.Series([], dtype="datetime64[ns, UTC]"),
                    **{c.lower(): pd.Series([], dtype="float64") for c in PRICE_COLUMNS},
                    "volume": pd.Series([], dtype="float64"),
                }
            )[list(CANONICAL_COLUMNS)]
        return pd.DataFrame(
            {
                "ticker": raw["_ticker"].astype(str),
                "ts": pd.to_datetime(raw["Datetime"], utc=True),
                **{
                    c.lower(): pd.to_numeric(raw[c], errors="coerce").astype("float64")
                    for c in PRICE_COLUMNS
                },
                "volume": pd.to_numeric(raw["Volume"], errors="coerce").astype("float64"),
            },
            index=raw.index,
        )[list(CANONICAL_COLUMNS)]


def _describe(chunk: list[dt.date], exc: Exception) -> str:
    """The outcome message: which days failed and why, with a plain hint for HTTP 404 (with a
    ``requests`` session yfinance lets the 404 of its symbol lookup escape as ``HTTPError``)."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    hint = "symbol not found at Yahoo (HTTP 404), possibly delisted; " if status == 404 else ""
    return f"{chunk[0]}..{chunk[-1]}: {hint}{public_message(exc)}"


def _not_started(days: list[dt.date], now: pd.Timestamp) -> list[market_calendar.Session]:
    """The sessions among ``days`` without a single ended minute at ``now``: not requested."""
    sessions = (market_calendar.session(d) for d in days)
    return [s for s in sessions if s is not None and market_calendar.completed_minutes(s, now) == 0]


def _ended_bars(raw: pd.DataFrame, now: pd.Timestamp) -> pd.DataFrame:
    """Drop the bars that have not ended at ``now`` (the minute still forming)."""
    if raw.empty:
        return raw
    ended = market_calendar.bar_has_ended(pd.to_datetime(raw["Datetime"], utc=True), now)
    return raw if ended.all() else raw[ended.to_numpy()].reset_index(drop=True)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True) if frames else empty_raw()
