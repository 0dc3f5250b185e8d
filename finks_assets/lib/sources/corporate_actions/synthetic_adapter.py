"""Synthetic corporate actions: the schedule of ``synthetic_actions`` as a vendor payload.

The "vendor" answers with a JSON list like FMP's, one object per event:
``{"symbol", "date", "type": "split"|"dividend", "numerator", "denominator", "dividend",
"currency"}``. A dividend's cash amount is :data:`DIVIDEND_YIELD` of the previous session's
raw synthetic open (rounded to 1/10,000 of a dollar, as vendors quote). The synthetic bars lose
exactly that yield on the ex-date, so the CRSP dividend factor ``1 - amount / previous close``
undoes the drop to within the previous day's open-to-close move (~1e-4 of the factor).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence

import pandas as pd

from finks_assets.lib import market_calendar
from finks_assets.lib.sources.corporate_actions.base import (
    ActionFetch,
    ActionPayload,
    parsed_frame,
    split_ratio_of,
)
from finks_assets.lib.sources.synthetic import _daily_anchors, _year_end
from finks_assets.lib.sources.synthetic_actions import (
    DIVIDEND_YIELD,
    EPOCH,
    actions_between,
    previous_session,
    price_multiplier,
)
from finks_assets.lib.tickers import validate_tickers

PART = "actions.json"


def _utc_now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


class SyntheticActionsSource:
    """Deterministic splits and dividends matching the synthetic bars; offline."""

    name = "synthetic"
    parts = (PART,)

    def __init__(self, seed: int = 7, now: Callable[[], pd.Timestamp] | None = None) -> None:
        self.seed = seed
        self._now = now or _utc_now

    def fetch_actions(self, tickers: Sequence[str]) -> ActionFetch:
        now = self._now()
        fetch = ActionFetch(source=self.name)
        until = now.tz_convert(market_calendar.EXCHANGE_TZ).date()
        for ticker in validate_tickers(tickers):
            events = self.events(ticker, EPOCH, until)
            raw = json.dumps(events, separators=(",", ":")).encode()
            fetch.payloads[ticker] = ActionPayload(ticker, now, {PART: raw})
        return fetch

    def events(self, ticker: str, start: dt.date, end: dt.date) -> list[dict]:
        """The vendor-format events of ``ticker`` with an ex-date in [start, end]."""
        scheduled = actions_between(self.seed, ticker, start, end)
        dividend_days = [a.ex_date for a in scheduled if a.kind == "cash_dividend"]
        previous_open = self._previous_opens(ticker, dividend_days)
        out = []
        for action in scheduled:
            row = {"symbol": ticker, "date": action.ex_date.isoformat(), "currency": "USD"}
            if action.kind == "split":
                numerator, denominator = (4, 1) if action.split_ratio >= 1 else (1, 4)
                row |= {"type": "split", "numerator": numerator, "denominator": denominator}
            else:
                row |= {"type": "dividend",
                        "dividend": round(DIVIDEND_YIELD * previous_open[action.ex_date], 4)}
            out.append(row)
        return out

    def _previous_opens(self, ticker: str, days: list[dt.date]) -> dict[dt.date, float]:
        """The raw synthetic opening price of the session before each day.

        The open, not the close: it comes straight from the bar generator's cached daily anchor
        walk, while a close needs that session's 390 minutes generated (~3 ms each, i.e. ~2 s
        for the ~600 dividends of one ticker since the epoch, measured on this 2-core box).
        """
        out = {}
        for day in days:
            previous = previous_session(day)
            anchors = _daily_anchors(self.seed, ticker, _year_end(previous))
            out[day] = anchors[previous] * price_multiplier(self.seed, ticker, previous)
        return out

    def parse(self, payload: ActionPayload) -> pd.DataFrame:
        rows = []
        for event in json.loads(payload.parts[PART]):
            kind = {"split": "split", "dividend": "cash_dividend"}.get(event.get("type"), event.get("type"))
            ratio = split_ratio_of(event.get("numerator"), event.get("denominator")) if kind == "split" else None
            rows.append({"ticker": event.get("symbol"), "ex_date": event.get("date"), "kind": kind,
                         "split_ratio": ratio, "cash_amount": event.get("dividend"),
                         "currency": event.get("currency")})
        return parsed_frame(rows)
