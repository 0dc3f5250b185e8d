"""Yahoo's daily chart with corporate-action ``events``, for yfinance's ``Ticker.actions`` and
``history(interval="1d", auto_adjust=...)``, served by the in-process :class:`FakeYahoo`.

The payload is recorded-format: Yahoo's ``/v8/finance/chart`` answer for ``interval=1d`` with
``events=div,splits``: bar timestamps at the session open (epoch seconds), OHLC *split-adjusted*
(Yahoo rewrites history after a split), dividends split-adjusted too, ``events.splits`` with
``numerator``/``denominator``/``splitRatio``, and ``indicators.adjclose`` computed by Yahoo's
published method (CRSP multipliers: every close before a dividend's ex-date times
``1 - dividend / close of the session before the ex-date``), all through float32 like Yahoo.

:data:`AAPL_2020` holds AAPL's raw (as-traded) closes around its 4:1 split of 2020-08-31 and its
USD 0.82 dividend that went ex on 2020-08-07 (0.205 after the split); closes are AAPL's
published closes of those days, to the cent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import requests

from finks_assets.lib import market_calendar
from finks_assets_tests.fakes.yahoo import FakeYahoo

D = dt.date


@dataclass(frozen=True)
class DailyHistory:
    """A ticker's raw daily closes and its actions, in as-traded (unadjusted) terms."""

    closes: dict[dt.date, float]
    splits: dict[dt.date, float]  # ex-date -> new shares per old share
    dividends: dict[dt.date, float]  # ex-date -> cash per share as paid

    def later_split_factor(self, day: dt.date) -> float:
        """The product of the ratios of the splits after ``day`` (Yahoo divides prices by it)."""
        return float(np.prod([r for d, r in self.splits.items() if d > day] or [1.0]))


AAPL_2020 = DailyHistory(
    closes={
        D(2020, 7, 27): 379.24, D(2020, 7, 28): 373.01, D(2020, 7, 29): 380.16,
        D(2020, 7, 30): 384.76, D(2020, 7, 31): 425.04, D(2020, 8, 3): 435.75,
        D(2020, 8, 4): 438.66, D(2020, 8, 5): 440.25, D(2020, 8, 6): 455.61,
        D(2020, 8, 7): 444.45, D(2020, 8, 10): 450.91, D(2020, 8, 11): 437.50,
        D(2020, 8, 12): 452.04, D(2020, 8, 13): 460.04, D(2020, 8, 14): 459.63,
        D(2020, 8, 17): 458.43, D(2020, 8, 18): 462.25, D(2020, 8, 19): 462.83,
        D(2020, 8, 20): 473.10, D(2020, 8, 21): 497.48, D(2020, 8, 24): 503.43,
        D(2020, 8, 25): 499.30, D(2020, 8, 26): 506.09, D(2020, 8, 27): 500.04,
        D(2020, 8, 28): 499.23, D(2020, 8, 31): 129.04, D(2020, 9, 1): 134.18,
        D(2020, 9, 2): 131.40, D(2020, 9, 3): 120.88, D(2020, 9, 4): 120.96,
    },
    splits={D(2020, 8, 31): 4.0},
    dividends={D(2020, 8, 7): 0.82},
)


def _f32(x: float) -> float:
    return float(np.float32(x))


def chart_payload(symbol: str, history: DailyHistory) -> dict[str, Any]:
    """Yahoo's daily chart answer for ``history`` (the whole history, events included)."""
    days = sorted(history.closes)
    opens = {d: market_calendar.session(d).open_utc for d in days}
    adjusted = {d: history.closes[d] / history.later_split_factor(d) for d in days}
    multiplier = dict.fromkeys(days, 1.0)
    for ex_date, cash in history.dividends.items():
        before = [d for d in days if d < ex_date]
        if not before:
            continue
        ratio = 1.0 - (cash / history.later_split_factor(ex_date)) / adjusted[before[-1]]
        for d in before:
            multiplier[d] *= ratio
    stamps = [int(opens[d].timestamp()) for d in days]
    close = [_f32(adjusted[d]) for d in days]
    quote = {"open": close, "high": close, "low": close, "close": close,
             "volume": [10_000_000] * len(days)}
    events: dict[str, Any] = {}
    if history.dividends:
        events["dividends"] = {
            str(int(opens[d].timestamp())): {
                "amount": _f32(cash / history.later_split_factor(d)),
                "date": int(opens[d].timestamp())}
            for d, cash in history.dividends.items()}
    if history.splits:
        events["splits"] = {
            str(int(opens[d].timestamp())): {
                "date": int(opens[d].timestamp()), "numerator": ratio, "denominator": 1.0,
                "splitRatio": f"{ratio:g}:1"}
            for d, ratio in history.splits.items()}
    last = days[-1]
    meta = {
        "currency": "USD", "symbol": symbol, "exchangeName": "NMS", "fullExchangeName": "NasdaqGS",
        "instrumentType": "EQUITY", "firstTradeDate": 345479400,
        "regularMarketTime": int(market_calendar.session(last).close_utc.timestamp()),
        "hasPrePostMarketData": True, "gmtoffset": -14400, "timezone": "EDT",
        "exchangeTimezoneName": market_calendar.EXCHANGE_TZ, "regularMarketPrice": close[-1],
        "chartPreviousClose": close[0], "priceHint": 2, "dataGranularity": "1d", "range": "",
        "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"],
    }
    result = {"meta": meta, "timestamp": stamps, "events": events,
              "indicators": {"quote": [quote],
                             "adjclose": [{"adjclose": [_f32(adjusted[d] * multiplier[d])
                                                        for d in days]}]}}
    return {"chart": {"result": [result], "error": None}}


class FakeYahooDaily(FakeYahoo):
    """:class:`FakeYahoo` plus daily charts with events for the symbols in ``histories``; the
    fake's clock is set just after the last session so yfinance sees a finished history."""

    def __init__(self, histories: dict[str, DailyHistory]) -> None:
        last = max(max(h.closes) for h in histories.values())
        super().__init__(now=market_calendar.session(last).close_utc + pd.Timedelta(hours=2))
        self.histories = histories

    def _chart(self, request: requests.PreparedRequest, symbol: str,
               params: dict[str, str]) -> requests.Response:
        if symbol in self.histories and params.get("interval") == "1d" and (
                params.get("range") not in (None, "1d") or "period1" in params):
            self._chart_counts[symbol] += 1
            body = chart_payload(symbol, self.histories[symbol])
            if "period1" in params:
                self._keep_window(body, int(params["period1"]), int(params.get("period2", 2**40)))
            return self._json(request, 200, body)
        return super()._chart(request, symbol, params)

    @staticmethod
    def _keep_window(body: dict[str, Any], start: int, end: int) -> None:
        result = body["chart"]["result"][0]
        keep = [i for i, t in enumerate(result["timestamp"]) if start <= t < end]
        result["timestamp"] = [result["timestamp"][i] for i in keep]
        quote = result["indicators"]["quote"][0]
        for key in quote:
            quote[key] = [quote[key][i] for i in keep]
        adj = result["indicators"]["adjclose"][0]
        adj["adjclose"] = [adj["adjclose"][i] for i in keep]
        for kind in list(result["events"]):
            result["events"][kind] = {k: v for k, v in result["events"][kind].items()
                                      if start <= int(k) < end}
