"""An in-process Yahoo Finance: a ``requests`` transport adapter serving recorded-format answers.

Tests mount :class:`FakeYahoo` on a ``requests.Session`` and hand that session to yfinance, so
yfinance's own request building, cookie/crumb dance and JSON parsing run for real while no
byte leaves the process. The payloads follow what Yahoo's ``/v8/finance/chart`` endpoint sends
for 1-minute bars (meta with trading periods, epoch-second minute starts, float32-looking
prices, ``null`` gaps); Yahoo's own request limits (8 days per 1m request, last 30 days only)
are enforced with Yahoo's 422 answers, so an adapter that breaks them fails loudly here too.

Any URL the fake does not know raises :class:`UnexpectedRequestError` (and is recorded in
:attr:`FakeYahoo.unexpected`): an unplanned network call must fail the test, not go online.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

import numpy as np
import pandas as pd
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from finks_assets.lib import market_calendar

NY = market_calendar.EXCHANGE_TZ
QUERY_HOSTS = frozenset({"query1.finance.yahoo.com", "query2.finance.yahoo.com"})
DEFAULT_NOW = pd.Timestamp("2025-12-01 21:00", tz="UTC")  # Monday, after the close
CRUMB = "fAkeCrumb0x1"
VALID_RANGES = ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]
DELISTED_BODY = {
    "chart": {
        "result": None,
        "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
    }
}

Kind = Literal["normal", "empty", "rate_limited", "delisted"]


class UnexpectedRequestError(AssertionError):
    """A request the fake does not model. Not an OSError, so yfinance never swallows it as a
    transient network failure."""


@dataclass(frozen=True)
class Behaviour:
    """How the fake answers chart requests for one symbol."""

    kind: Kind = "normal"
    # rate_limited: how many chart requests get HTTP 429 before normal answers (None = forever).
    times: int | None = None
    # normal: minutes after the session open that Yahoo sends as all-null bars.
    null_minutes: frozenset[int] = frozenset()

    @classmethod
    def normal(cls, null_minutes: frozenset[int] = frozenset()) -> Behaviour:
        return cls("normal", null_minutes=null_minutes)

    @classmethod
    def empty(cls) -> Behaviour:
        return cls("empty")

    @classmethod
    def rate_limited(cls, times: int | None = None) -> Behaviour:
        return cls("rate_limited", times=times)

    @classmethod
    def delisted(cls) -> Behaviour:
        return cls("delisted")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    url: str
    host: str
    path: str
    params: dict[str, str]

    @property
    def symbol(self) -> str | None:
        if "/v8/finance/chart/" not in self.path:
            return None
        return unquote(self.path.rsplit("/", 1)[1])


def _f32(x: float) -> float:
    """Yahoo serialises prices through float32, e.g. 182.54 -> 182.5399932861328."""
    return float(np.float32(round(x, 4)))


def bar_values(symbol: str, epoch_s: int) -> tuple[float, float, float, float, int]:
    """The deterministic (open, high, low, close, volume) the fake sends for one minute bar."""
    base = 20.0 + zlib.crc32(symbol.encode()) % 50_000 / 100
    minute = epoch_s // 60
    open_ = base + (minute % 600) * 0.01
    close = open_ + ((minute % 7) - 3) * 0.01
    high = max(open_, close) + 0.02
    low = min(open_, close) - 0.03
    return _f32(open_), _f32(high), _f32(low), _f32(close), 500 + (minute * 37) % 20_000


def session_minutes(day: market_calendar.Session) -> list[int]:
    """Epoch seconds of every bar start in a regular session, [open, close)."""
    start = int(day.open_utc.timestamp())
    return list(range(start, int(day.close_utc.timestamp()), 60))


def _period(start: pd.Timestamp, end: pd.Timestamp) -> dict[str, Any]:
    local = start.tz_convert(NY)
    return {
        "timezone": local.tzname(),
        "start": int(start.timestamp()),
        "end": int(end.timestamp()),
        "gmtoffset": int(local.utcoffset().total_seconds()),
    }


class FakeYahoo(BaseAdapter):
    """A ``requests`` adapter that plays Yahoo Finance for yfinance.

    ``behaviours`` maps a symbol to how its chart requests are answered (default: normal);
    ``now`` is the fake's wall clock, used for the 30-day limit and the current trading period.
    Every request lands in :attr:`received`, in order.
    """

    def __init__(
        self, behaviours: Mapping[str, Behaviour] | None = None, now: pd.Timestamp = DEFAULT_NOW
    ) -> None:
        super().__init__()
        self.behaviours = dict(behaviours or {})
        self.now = now
        self.received: list[RecordedRequest] = []
        self.unexpected: list[str] = []
        self._chart_counts: Counter[str] = Counter()

    # -- requests' adapter interface -------------------------------------------------------

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url or "")
        host, path = parts.hostname or "", parts.path
        params = dict(parse_qsl(parts.query))
        self.received.append(
            RecordedRequest(request.method or "GET", request.url or "", host, path, params)
        )
        if host == "fc.yahoo.com":
            # Yahoo answers 404 but sets the A3 cookie; yfinance only needs the call to return.
            return self._respond(request, 404, "<html><body>Not Found</body></html>", "text/html")
        if host in QUERY_HOSTS and path == "/v1/test/getcrumb":
            return self._respond(request, 200, CRUMB, "text/plain")
        if host == "guce.yahoo.com" and path == "/consent":
            # Outside the EU there is no consent form: yfinance falls back to the basic cookie.
            return self._respond(
                request, 200, "<html><body>No consent needed</body></html>", "text/html"
            )
        if (host, path) in {
            ("consent.yahoo.com", "/v2/collectConsent"),
            ("guce.yahoo.com", "/copyConsent"),
        }:
            return self._respond(request, 200, "<html></html>", "text/html")
        if host in QUERY_HOSTS and path.startswith("/v8/finance/chart/"):
            return self._chart(request, unquote(path.rsplit("/", 1)[1]), params)
        if host in QUERY_HOSTS and path.startswith("/v10/finance/quoteSummary/"):
            return self._quote_summary(request, unquote(path.rsplit("/", 1)[1]))
        if host in QUERY_HOSTS and path == "/v7/finance/quote":
            return self._json(request, 200, {"quoteResponse": {"result": [], "error": None}})
        self.unexpected.append(f"{request.method} {host}{path}")
        raise UnexpectedRequestError(f"FakeYahoo has no route for {request.method} {host}{path}")

    def close(self) -> None:
        pass

    # -- helpers for tests -----------------------------------------------------------------

    def session(self) -> requests.Session:
        """A fresh session whose every http(s) request lands in this fake."""
        session = requests.Session()
        session.mount("https://", self)
        session.mount("http://", self)
        return session

    def chart_requests(
        self, symbol: str | None = None, interval: str | None = "1m"
    ) -> list[RecordedRequest]:
        """Chart calls (optionally for one symbol / one interval), in the order received."""
        return [
            r
            for r in self.received
            if r.symbol is not None
            and (symbol is None or r.symbol == symbol)
            and (interval is None or r.params.get("interval") == interval)
        ]

    # -- endpoints -------------------------------------------------------------------------

    def _chart(
        self, request: requests.PreparedRequest, symbol: str, params: dict[str, str]
    ) -> requests.Response:
        behaviour = self.behaviours.get(symbol, Behaviour.normal())
        self._chart_counts[symbol] += 1
        if behaviour.kind == "rate_limited" and (
            behaviour.times is None or self._chart_counts[symbol] <= behaviour.times
        ):
            return self._respond(request, 429, "Too Many Requests\r\n", "text/plain")
        if behaviour.kind == "delisted":
            return self._json(request, 404, DELISTED_BODY)
        interval = params.get("interval")
        if params.get("range") == "1d" and interval == "1d":
            return self._json(request, 200, self._daily(symbol, behaviour))
        if interval == "1m" and "period1" in params and "period2" in params:
            start = pd.Timestamp(int(params["period1"]), unit="s", tz="UTC")
            end = pd.Timestamp(int(params["period2"]), unit="s", tz="UTC")
            if end - start > pd.Timedelta(days=8):
                return self._unprocessable(
                    request,
                    "Only 8 days worth of 1m granularity data are allowed to be fetched per request.",
                )
            if start < self.now - pd.Timedelta(days=30):
                return self._unprocessable(
                    request,
                    f"1m data not available for startTime={params['period1']} and endTime="
                    f"{params['period2']}. The requested range must be within the last 30 days.",
                )
            return self._json(request, 200, self._minutes(symbol, behaviour, start, end, params))
        self.unexpected.append(f"chart {symbol} {params}")
        raise UnexpectedRequestError(f"FakeYahoo does not model chart params {params}")

    def _quote_summary(self, request: requests.PreparedRequest, symbol: str) -> requests.Response:
        if self.behaviours.get(symbol, Behaviour.normal()).kind == "delisted":
            error = {"code": "Not Found", "description": f"Quote not found for symbol: {symbol}"}
            return self._json(request, 404, {"quoteSummary": {"result": None, "error": error}})
        result = {
            "quoteType": {"symbol": symbol, "exchangeTimezoneName": NY, "quoteType": "EQUITY"}
        }
        return self._json(request, 200, {"quoteSummary": {"result": [result], "error": None}})

    # -- payloads --------------------------------------------------------------------------

    def _meta(
        self, symbol: str, granularity: str, range_: str, sessions: list[market_calendar.Session]
    ) -> dict[str, Any]:
        current = self._current_session()
        local_now = self.now.tz_convert(NY)
        day = pd.Timestamp(current.date, tz=NY)
        last_close = bar_values(symbol, int(current.close_utc.timestamp()) - 60)[3]
        meta: dict[str, Any] = {
            "currency": "USD",
            "symbol": symbol,
            "exchangeName": "NMS",
            "fullExchangeName": "NasdaqGS",
            "instrumentType": "EQUITY",
            "firstTradeDate": 345479400,
            "regularMarketTime": int(current.close_utc.timestamp()),
            "hasPrePostMarketData": True,
            "gmtoffset": int(local_now.utcoffset().total_seconds()),
            "timezone": local_now.tzname(),
            "exchangeTimezoneName": NY,
            "regularMarketPrice": last_close,
            "longName": f"{symbol} Fake Inc.",
            "shortName": f"{symbol} Fake",
            "chartPreviousClose": last_close,
            "previousClose": last_close,
            "scale": 3,
            "priceHint": 2,
            "currentTradingPeriod": {
                "pre": _period(day + pd.Timedelta(hours=4), current.open_utc),
                "regular": _period(current.open_utc, current.close_utc),
                "post": _period(current.close_utc, day + pd.Timedelta(hours=20)),
            },
            "dataGranularity": granularity,
            "range": range_,
            "validRanges": VALID_RANGES,
        }
        if granularity.endswith("m"):
            meta["tradingPeriods"] = [[_period(s.open_utc, s.close_utc)] for s in sessions]
        return meta

    def _current_session(self) -> market_calendar.Session:
        today = self.now.tz_convert(NY).date()
        recent = market_calendar.sessions_between(today - pd.Timedelta(days=10), today)
        return [s for s in recent if s.open_utc <= self.now][-1]

    def _minutes(
        self,
        symbol: str,
        behaviour: Behaviour,
        start: pd.Timestamp,
        end: pd.Timestamp,
        params: dict[str, str],
    ) -> dict[str, Any]:
        days = market_calendar.sessions_between(
            start.tz_convert(NY).date(), end.tz_convert(NY).date()
        )
        days = [s for s in days if s.close_utc > start and s.open_utc < end]
        result: dict[str, Any] = {"meta": self._meta(symbol, "1m", "", days)}
        if behaviour.kind == "empty":
            result["indicators"] = {"quote": [{}]}
            return {"chart": {"result": [result], "error": None}}
        stamps: list[int] = []
        quote: dict[str, list[Any]] = {k: [] for k in ("open", "high", "low", "close", "volume")}
        for day in days:
            for i, epoch in enumerate(session_minutes(day)):
                if not start.timestamp() <= epoch < end.timestamp():
                    continue
                stamps.append(epoch)
                values = (None,) * 5 if i in behaviour.null_minutes else bar_values(symbol, epoch)
                for key, value in zip(
                    ("open", "high", "low", "close", "volume"), values, strict=True
                ):
                    quote[key].append(value)
        result["timestamp"] = stamps
        result["indicators"] = {"quote": [quote]}
        return {"chart": {"result": [result], "error": None}}

    def _daily(self, symbol: str, behaviour: Behaviour) -> dict[str, Any]:
        """The tiny range=1d/interval=1d call yfinance makes to learn the exchange timezone."""
        current = self._current_session()
        result: dict[str, Any] = {"meta": self._meta(symbol, "1d", "1d", [current])}
        if behaviour.kind == "empty":
            result["indicators"] = {"quote": [{}]}
        else:
            bars = [bar_values(symbol, epoch) for epoch in session_minutes(current)]
            quote = {
                "open": [bars[0][0]],
                "high": [max(b[1] for b in bars)],
                "low": [min(b[2] for b in bars)],
                "close": [bars[-1][3]],
                "volume": [sum(b[4] for b in bars)],
            }
            result["timestamp"] = [int(current.open_utc.timestamp())]
            result["indicators"] = {"quote": [quote], "adjclose": [{"adjclose": quote["close"]}]}
        return {"chart": {"result": [result], "error": None}}

    # -- responses -------------------------------------------------------------------------

    def _unprocessable(
        self, request: requests.PreparedRequest, description: str
    ) -> requests.Response:
        error = {"code": "Unprocessable Entity", "description": description}
        return self._json(request, 422, {"chart": {"result": None, "error": error}})

    def _json(self, request: requests.PreparedRequest, status: int, body: Any) -> requests.Response:
        return self._respond(
            request,
            status,
            json.dumps(body, separators=(",", ":")),
            "application/json;charset=utf-8",
        )

    def _respond(
        self, request: requests.PreparedRequest, status: int, body: str, content_type: str
    ) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response.reason = {
            200: "OK",
            404: "Not Found",
            422: "Unprocessable Entity",
            429: "Too Many Requests",
        }.get(status, "")
        response.headers = CaseInsensitiveDict({"Content-Type": content_type})
        response._content = body.encode("utf-8")
        response.encoding = "utf-8"
        response.url = request.url or ""
        response.request = request
        return response


@contextmanager
def isolated_yfinance(cache_dir: Path) -> Iterator[None]:
    """Run with yfinance's process-wide state fresh and its caches under ``cache_dir``.

    yfinance keeps state that would leak between tests (and into the user's home): the
    ``YfData`` singleton holding the last session, crumb and cookie strategy; an lru cache of
    responses keyed on that singleton; sqlite tz/cookie/ISIN caches under the user cache dir;
    and a global counter limiting its ``info`` fallback. This resets all of it on entry and on
    exit, and points the caches back to where they were afterwards.
    """
    import yfinance as yf
    from yfinance import base as yf_base
    from yfinance import cache as yf_cache
    from yfinance import data as yf_data

    def reset() -> None:
        yf_data.SingletonMeta._instances.pop(yf_data.YfData, None)
        yf_data.YfData.cache_get.cache_clear()
        yf_cache._TzCacheManager._tz_cache = None
        yf_cache._CookieCacheManager._Cookie_cache = None
        yf_cache._ISINCacheManager._isin_cache = None
        yf_base._tz_info_fetch_ctr = 0

    original = yf_cache._TzDBManager.get_location()
    yf.set_tz_cache_location(str(cache_dir))
    reset()
    try:
        yield
    finally:
        reset()
        yf.set_tz_cache_location(original)
