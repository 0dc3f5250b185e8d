"""A loopback Financial Modeling Prep: a real HTTP server answering with FMP's ``/stable`` shapes.

The FMP client under test talks to it over real sockets, so ``requests``, urllib3's ``Retry``
(including ``Retry-After``), timeouts and the client's rate limiter all run for real, offline.

Payload shapes follow FMP's stable API documentation and recorded answers:

* ``/stable/historical-price-eod/full`` -> a flat list, newest day first, of
  ``{symbol, date, open, high, low, close, volume, change, changePercent, vwap}``;
* ``/stable/profile`` -> ``[{symbol, price, marketCap, beta, ..., companyName, currency, cik,
  isin, cusip, exchangeFullName, exchange, industry, website, description, ceo, sector,
  country, fullTimeEmployees, ..., ipoDate, isEtf, isActivelyTrading, isAdr, isFund}]``;
* statements -> newest first, ``{date, symbol, reportedCurrency, cik, filingDate, acceptedDate,
  fiscalYear, period, <line items>}``.

Faults are scripted per symbol (optionally per endpoint) as a queue of :class:`Reply`; when the
queue is empty the symbol gets its normal data. Each request is recorded (without the key) in
:attr:`FakeFmpServer.requests`, and the key each request carried is checked: a wrong key gets
FMP's 401 answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from finks_assets.lib import market_calendar

INVALID_KEY_MESSAGE = (
    "Invalid API KEY. Feel free to create a Free API Key or visit "
    "https://site.financialmodelingprep.com/faqs?search=why-is-my-api-key-invalid for more information."
)
LEGACY_MESSAGE = (
    "Legacy Endpoint : Due to Legacy endpoints being no longer supported - This endpoint is only "
    "available for legacy users who have valid subscriptions prior August 31, 2025."
)
PLAN_MESSAGE = (
    "Premium Query Parameter: 'Special Endpoint : This value set for 'symbol' is not available "
    "under your current subscription please visit our subscription page to upgrade your plan "
    "at https://site.financialmodelingprep.com/developer/docs/pricing"
)
LIMIT_MESSAGE = "Limit Reach . Please upgrade your plan or visit our documentation for more details"


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (read timeouts)


def rate_limited(retry_after: int | None = None) -> Reply:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return Reply(429, json.dumps({"Error Message": LIMIT_MESSAGE}).encode(), headers)


def payment_required() -> Reply:
    return Reply(402, json.dumps({"Error Message": PLAN_MESSAGE}).encode())


def unauthorized() -> Reply:
    return Reply(401, json.dumps({"Error Message": INVALID_KEY_MESSAGE}).encode())


def forbidden() -> Reply:
    return Reply(403, json.dumps({"Error Message": LEGACY_MESSAGE}).encode())


def error_message(text: str = LEGACY_MESSAGE) -> Reply:
    return Reply(200, json.dumps({"Error Message": text}).encode())


def server_error(status: int = 503) -> Reply:
    return Reply(status, b"<html><body><h1>503 Service Unavailable</h1></body></html>",
                 {"Content-Type": "text/html"})


def truncated() -> Reply:
    body = json.dumps([{"symbol": "X", "date": "2025-11-24", "open": 1.0, "close": 2.0}])
    return Reply(200, body[: len(body) // 2].encode())


def empty() -> Reply:
    return Reply(200, b"[]")


def slow(seconds: float) -> Reply:
    """Answers normally, but only after ``seconds`` (longer than the client's timeout)."""
    return Reply(200, b"", delay=seconds)


def _unit(*parts: object) -> float:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


def eod_row(symbol: str, day: dt.date) -> dict[str, Any]:
    base = 50 + 400 * _unit(symbol, "level")
    drift = 1 + 0.05 * (_unit(symbol, day) - 0.5)
    open_ = round(base * drift, 2)
    close = round(open_ * (1 + 0.02 * (_unit(symbol, day, "c") - 0.5)), 2)
    high = round(max(open_, close) * (1 + 0.01 * _unit(symbol, day, "h")), 2)
    low = round(min(open_, close) * (1 - 0.01 * _unit(symbol, day, "l")), 2)
    return {
        "symbol": symbol, "date": day.isoformat(), "open": open_, "high": high, "low": low,
        "close": close, "volume": int(1e6 + 5e7 * _unit(symbol, day, "v")),
        "change": round(close - open_, 2), "changePercent": round((close / open_ - 1) * 100, 5),
        "vwap": round((open_ + high + low + close) / 4, 2),
    }


def profile_row(symbol: str) -> dict[str, Any]:
    price = eod_row(symbol, dt.date(2025, 11, 24))["close"]
    sectors = [("Technology", "Consumer Electronics"), ("Energy", "Oil & Gas Integrated"),
               ("Healthcare", "Drug Manufacturers - General"), ("Financial Services", "Banks - Diversified")]
    sector, industry = sectors[int(_unit(symbol, "sector") * len(sectors))]
    return {
        "symbol": symbol, "price": price, "marketCap": int(1e9 + 3e12 * _unit(symbol, "cap")),
        "beta": round(0.5 + _unit(symbol, "beta"), 3), "lastDividend": 1.0,
        "range": f"{round(price * 0.7, 2)}-{round(price * 1.2, 2)}", "change": 1.23,
        "changePercentage": 0.5, "volume": 51_000_000, "averageVolume": 48_000_000,
        "companyName": f"{symbol.title()} Holdings Inc.", "currency": "USD",
        "cik": f"{int(_unit(symbol, 'cik') * 1e10):010d}", "isin": f"US{symbol[:4]:0<4}000000",
        "cusip": "037833100", "exchangeFullName": "NASDAQ Global Select", "exchange": "NASDAQ",
        "industry": industry, "website": f"https://www.{symbol.lower()}.example",
        "description": f"{symbol} designs things.", "ceo": "Jane Doe", "sector": sector,
        "country": "US", "fullTimeEmployees": "164000", "phone": "(408) 996-1010",
        "address": "One Way", "city": "Cupertino", "state": "CA", "zip": "95014",
        "image": f"https://images.financialmodelingprep.com/symbol/{symbol}.png",
        "ipoDate": "1980-12-12", "defaultImage": False, "isEtf": False,
        "isActivelyTrading": True, "isAdr": False, "isFund": False,
    }


QUARTER_ENDS = [dt.date(2025, 9, 27), dt.date(2025, 6, 28), dt.date(2025, 3, 29),
                dt.date(2024, 12, 28), dt.date(2024, 9, 28), dt.date(2024, 6, 29),
                dt.date(2024, 3, 30), dt.date(2023, 12, 30)]


def _statement_head(symbol: str, end: dt.date, period: str) -> dict[str, Any]:
    filed = end + dt.timedelta(days=34)
    quarter = {12: "Q1", 3: "Q2", 6: "Q3", 9: "Q4"}[end.month]  # a September fiscal year
    fiscal_year = end.year + (1 if end.month == 12 else 0)
    return {
        "date": end.isoformat(), "symbol": symbol, "reportedCurrency": "USD",
        "cik": f"{int(_unit(symbol, 'cik') * 1e10):010d}", "filingDate": filed.isoformat(),
        "acceptedDate": f"{filed.isoformat()} 16:0{int(_unit(symbol, end) * 9)}:3{int(_unit(end) * 9)}",
        "fiscalYear": str(fiscal_year), "period": quarter if period == "quarter" else "FY",
    }


def statement_rows(kind: str, symbol: str, period: str, limit: int) -> list[dict[str, Any]]:
    rows = []
    for end in QUARTER_ENDS[:limit]:
        scale = 1e9 * (1 + 100 * _unit(symbol, "size"))
        revenue = round(scale * (1 + 0.1 * _unit(symbol, end, "rev")))
        net = round(revenue * (0.05 + 0.2 * _unit(symbol, end, "margin")))
        head = _statement_head(symbol, end, period)
        if kind == "income_statement":
            body = {
                "revenue": revenue, "costOfRevenue": round(revenue * 0.55),
                "grossProfit": revenue - round(revenue * 0.55),
                "researchAndDevelopmentExpenses": round(revenue * 0.08),
                "operatingExpenses": round(revenue * 0.15), "operatingIncome": round(revenue * 0.3),
                "incomeBeforeTax": round(net * 1.2), "incomeTaxExpense": round(net * 0.2),
                "netIncome": net, "eps": round(net / 15e9, 2), "epsDiluted": round(net / 15.1e9, 2),
                "weightedAverageShsOut": 15_000_000_000, "weightedAverageShsOutDil": 15_100_000_000,
                "ebitda": round(revenue * 0.35),
            }
        elif kind == "balance_sheet_statement":
            assets = round(scale * 4)
            liabilities = round(assets * 0.8)
            body = {
                "cashAndCashEquivalents": round(scale * 0.3), "totalCurrentAssets": round(scale),
                "totalAssets": assets, "totalCurrentLiabilities": round(scale * 1.1),
                "totalLiabilities": liabilities, "totalStockholdersEquity": assets - liabilities,
                "totalEquity": assets - liabilities, "totalDebt": round(scale * 0.9),
                "netDebt": round(scale * 0.6),
            }
        else:
            operating = round(net * 1.3)
            capex = -round(revenue * 0.03)
            body = {
                "netIncome": net, "depreciationAndAmortization": round(revenue * 0.03),
                "netCashProvidedByOperatingActivities": operating, "operatingCashFlow": operating,
                "capitalExpenditure": capex, "freeCashFlow": operating + capex,
                "commonDividendsPaid": -round(net * 0.15),
            }
        rows.append({**head, **body})
    return rows


# Corporate actions (/stable/splits, /stable/dividends): newest first, as FMP answers; every
# other symbol has none ([]). AAPL's are its real ones (2020 4:1 split, 2020-08-07 dividend).
ACTIONS: dict[str, dict[str, list[dict[str, Any]]]] = {
    "AAPL": {
        "splits": [
            {"symbol": "AAPL", "date": "2020-08-31", "numerator": 4, "denominator": 1},
            {"symbol": "AAPL", "date": "2014-06-09", "numerator": 7, "denominator": 1},
        ],
        "dividends": [
            {"symbol": "AAPL", "date": "2020-08-07", "recordDate": "2020-08-10",
             "paymentDate": "2020-08-13", "declarationDate": "2020-07-30", "adjDividend": 0.205,
             "dividend": 0.82, "yield": 0.7, "frequency": "Quarterly"},
        ],
    },
}


ENDPOINTS = {
    "/stable/splits": "splits",
    "/stable/dividends": "dividends",
    "/stable/historical-price-eod/full": "eod",
    "/stable/profile": "profile",
    "/stable/income-statement": "income_statement",
    "/stable/balance-sheet-statement": "balance_sheet_statement",
    "/stable/cash-flow-statement": "cash_flow_statement",
}


@dataclass
class RecordedRequest:
    path: str
    params: dict[str, str]  # without apikey
    key_ok: bool
    at: float


class FakeFmpServer:
    """``with FakeFmpServer(api_key=...) as fmp:`` then point the client at ``fmp.base_url``."""

    def __init__(self, api_key: str = "fake-fmp-key") -> None:
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self.eod_overrides: dict[str, list[dict[str, Any]]] = {}
        self._scripts: dict[tuple[str, str | None], deque[Reply]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting ---------------------------------------------------------------------------

    def script(self, symbol: str, *replies: Reply, endpoint: str | None = None) -> None:
        """Queue ``replies`` for ``symbol`` (on one endpoint name, e.g. 'eod', or on any)."""
        with self._lock:
            self._scripts[(symbol, endpoint)].extend(replies)

    def calls(self, symbol: str | None = None, endpoint: str | None = None) -> list[RecordedRequest]:
        return [
            r for r in self.requests
            if (symbol is None or r.params.get("symbol") == symbol)
            and (endpoint is None or ENDPOINTS.get(r.path) == endpoint)
        ]

    def _next_scripted(self, symbol: str, endpoint: str) -> Reply | None:
        with self._lock:
            for key in ((symbol, endpoint), (symbol, None)):
                if self._scripts[key]:
                    return self._scripts[key].popleft()
        return None

    # -- answering ---------------------------------------------------------------------------

    def answer(self, path: str, params: dict[str, str]) -> Reply:
        key_ok = params.pop("apikey", None) == self.api_key
        with self._lock:
            self.requests.append(RecordedRequest(path, dict(params), key_ok, time.monotonic()))
        endpoint = ENDPOINTS.get(path)
        if endpoint is None:
            return Reply(404, json.dumps({"Error Message": "Not found"}).encode())
        if not key_ok:
            return unauthorized()
        symbol = params.get("symbol", "")
        scripted = self._next_scripted(symbol, endpoint)
        if scripted is not None and (scripted.body or scripted.status != 200):
            return scripted
        delay = scripted.delay if scripted else 0.0
        return Reply(200, json.dumps(self._data(endpoint, symbol, params)).encode(),
                     {"Content-Type": "application/json"}, delay)

    def _data(self, endpoint: str, symbol: str, params: dict[str, str]) -> list[dict[str, Any]]:
        if endpoint == "eod":
            start = dt.date.fromisoformat(params["from"])
            end = dt.date.fromisoformat(params["to"])
            if symbol in self.eod_overrides:
                rows = [r for r in self.eod_overrides[symbol]
                        if start.isoformat() <= r["date"] <= end.isoformat()]
            else:
                rows = [eod_row(symbol, s.date) for s in market_calendar.sessions_between(start, end)]
            return sorted(rows, key=lambda r: r["date"], reverse=True)
        if endpoint == "profile":
            return [profile_row(symbol)]
        if endpoint in ("splits", "dividends"):
            return ACTIONS.get(symbol, {}).get(endpoint, [])
        return statement_rows(endpoint, symbol, params.get("period", "annual"),
                              int(params.get("limit", "5")))

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeFmpServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                parts = urlsplit(self.path)
                reply = fake.answer(parts.path, dict(parse_qsl(parts.query)))
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.headers.get("Content-Type", "application/json"))
                    for name, value in reply.headers.items():
                        if name != "Content-Type":
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and hung up

            def log_message(self, *_args: object) -> None:  # keep test output (and keys) quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="fake-fmp")
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
