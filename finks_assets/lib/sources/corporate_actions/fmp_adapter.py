"""Corporate actions from FMP's stable per-company endpoints.

* ``GET /stable/splits?symbol=AAPL`` -> ``[{"symbol", "date", "numerator", "denominator"}]``
  (newest first; recent answers add ``splitType``);
* ``GET /stable/dividends?symbol=AAPL`` -> ``[{"symbol", "date", "recordDate", "paymentDate",
  "declarationDate", "adjDividend", "dividend", "yield", "frequency"}]``. ``date`` is the
  ex-date; ``dividend`` is the cash paid per share at the time, ``adjDividend`` the same
  adjusted for later splits. Silver takes ``dividend`` (raw, like FMP's unadjusted EOD close).

Both answers are kept as received (``splits.json``, ``dividends.json``). A ticker with no
splits gets ``[]`` from FMP, which the client raises as ``FmpNoData``: here that is a valid
"no events" answer, kept as ``[]``, not a failure. FINKS' FMP client does the transport (key
never logged, typed errors, retries, rate limit); an invalid key fails the whole step.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import pandas as pd

from finks_assets.lib.sources.corporate_actions.base import (
    ActionFetch,
    ActionPayload,
    parsed_frame,
    split_ratio_of,
)
from finks_assets.lib.sources.fmp.client import FmpClient
from finks_assets.lib.sources.fmp.errors import FmpAuthError, FmpError, FmpErrorMessage, FmpNoData
from finks_assets.lib.tickers import validate_tickers

ENDPOINTS = {"splits.json": "/stable/splits", "dividends.json": "/stable/dividends"}


class FmpActionsSource:
    """Splits and dividends from FMP; ``client_factory`` builds the run's :class:`FmpClient`."""

    name = "fmp"
    parts = tuple(ENDPOINTS)

    def __init__(self, client_factory: Callable[[], FmpClient]) -> None:
        self._client_factory = client_factory

    def fetch_actions(self, tickers: Sequence[str]) -> ActionFetch:
        fetch = ActionFetch(source=self.name)
        with self._client_factory() as client:
            for ticker in validate_tickers(tickers):
                parts: dict[str, bytes] = {}
                try:
                    for part, endpoint in ENDPOINTS.items():
                        parts[part] = self._get(client, endpoint, ticker)
                except FmpError as exc:
                    if isinstance(exc, FmpAuthError) or (
                            isinstance(exc, FmpErrorMessage) and "invalid api key" in str(exc).lower()):
                        raise  # a rejected key is not one ticker's failure
                    fetch.failures[ticker] = exc.describe()
                    continue
                fetch.payloads[ticker] = ActionPayload(ticker, pd.Timestamp.now(tz="UTC"), parts)
        return fetch

    @staticmethod
    def _get(client: FmpClient, endpoint: str, ticker: str) -> bytes:
        try:
            return client.get(endpoint, ticker).raw
        except FmpNoData:
            return b"[]"  # FMP's answer for "no splits/dividends on record"

    def parse(self, payload: ActionPayload) -> pd.DataFrame:
        rows = []
        for event in _rows(payload.parts.get("splits.json", b"[]")):
            rows.append({"ticker": event.get("symbol"), "ex_date": event.get("date"), "kind": "split",
                         "split_ratio": split_ratio_of(event.get("numerator"), event.get("denominator")),
                         "cash_amount": None, "currency": None})
        for event in _rows(payload.parts.get("dividends.json", b"[]")):
            rows.append({"ticker": event.get("symbol"), "ex_date": event.get("date"),
                         "kind": "cash_dividend", "split_ratio": None,
                         "cash_amount": _number(event.get("dividend")),
                         "currency": event.get("currency") or "USD"})
        return parsed_frame(rows)


def _rows(raw: bytes) -> list[dict]:
    body = json.loads(raw)
    body = [body] if isinstance(body, dict) else body
    return [row for row in body if isinstance(row, dict)] if isinstance(body, list) else []


def _number(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
