"""The FMP ``/stable`` API over ``requests``, with FMP's real failure modes made explicit.

What FMP does, and what the client does about it:

========================================  ===================================================
FMP answer                                client
========================================  ===================================================
429 (with or without ``Retry-After``)     retried by urllib3 ``Retry``: ``Retry-After`` is
                                          honoured (capped), otherwise exponential backoff;
                                          :class:`FmpRateLimited` once attempts run out
5xx, connect/read timeouts                retried the same way; then :class:`FmpServerError` /
                                          :class:`FmpTransportError`
401 / 402 / 403 / 404                     not retried: :class:`FmpAuthError`,
                                          :class:`FmpPlanError`, :class:`FmpForbiddenError`,
                                          :class:`FmpNotFound`
200 + ``{"Error Message": ...}``          :class:`FmpErrorMessage` (invalid key, legacy
                                          endpoint, quota)
truncated / non-JSON / wrong shape        :class:`FmpMalformedResponse`
``[]``                                    :class:`FmpNoData` (symbol not covered by the plan)
========================================  ===================================================

Every request first takes a token from the client-side :class:`TokenBucket`. The key travels as
the ``apikey`` query parameter (FMP's documented way) and is scrubbed from every message: errors
are raised ``from None`` so the original exception, whose text holds the full URL, never ends up
in a traceback that Dagster serializes.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from urllib3.util.retry import Retry

from finks_assets.lib.sources.fmp import errors
from finks_assets.lib.sources.fmp.rate_limit import TokenBucket
from finks_assets.lib.sources.fmp.redact import install_log_redaction, scrub
from finks_assets.lib.tickers import validate_ticker

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_BASE_URL = "https://financialmodelingprep.com"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
STATEMENT_ENDPOINTS = {
    "income_statement": "/stable/income-statement",
    "balance_sheet_statement": "/stable/balance-sheet-statement",
    "cash_flow_statement": "/stable/cash-flow-statement",
}
_BY_STATUS: dict[int, type[errors.FmpError]] = {
    401: errors.FmpAuthError,
    402: errors.FmpPlanError,
    403: errors.FmpForbiddenError,
    404: errors.FmpNotFound,
    429: errors.FmpRateLimited,
}


@dataclass(frozen=True)
class FmpPayload:
    """One successful answer: the body bytes exactly as received, and their parsed JSON."""

    endpoint: str
    symbol: str
    params: dict[str, str]  # request parameters without the key
    raw: bytes
    data: list[dict[str, Any]]
    fetched_at: pd.Timestamp


class FmpClient:
    """A thread-safe-enough, synchronous FMP client; one per run."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        rate_limit_per_minute: float = 300,
        rate_limit_burst: int | None = None,
        max_retries: int = 4,
        backoff_factor: float = 1.0,
        backoff_max: float = 60.0,
        retry_after_max: int = 120,
        timeout: float = 30.0,
        limiter: TokenBucket | None = None,
    ) -> None:
        """``backoff_factor``: waits of factor x 2^(n-1) s between attempts when no Retry-After is
        sent; ``retry_after_max`` caps a server-sent Retry-After so a run cannot stall for hours."""
        import requests
        from requests.adapters import HTTPAdapter
        if not api_key:
            raise errors.FmpAuthError("FMP_API_KEY is not set")
        self._key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.limiter = limiter or TokenBucket(rate_limit_per_minute, burst=rate_limit_burst)
        self.retry = Retry(
            total=max_retries,
            connect=max_retries,
            read=max_retries,
            status=max_retries,
            other=0,
            redirect=3,
            allowed_methods=frozenset({"GET"}),
            status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff_factor,
            backoff_max=backoff_max,
            respect_retry_after_header=True,
            retry_after_max=retry_after_max,
            raise_on_status=False,  # hand us the last 429/5xx so we can type it
        )
        self.session = requests.Session()
        adapter = HTTPAdapter(max_retries=self.retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        install_log_redaction()

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> FmpClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never show the key
        return f"FmpClient(base_url={self.base_url!r})"

    # -- endpoints --------------------------------------------------------------------------

    def historical_price_eod(self, symbol: str, start: dt.date, end: dt.date) -> FmpPayload:
        """Daily OHLCV (+ change, vwap) for ``symbol`` from ``start`` to ``end`` inclusive."""
        return self.get(
            "/stable/historical-price-eod/full",
            symbol,
            {"from": start.isoformat(), "to": end.isoformat()},
        )

    def profile(self, symbol: str) -> FmpPayload:
        return self.get("/stable/profile", symbol)

    def statement(self, kind: str, symbol: str, period: str = "quarter", limit: int = 8) -> FmpPayload:
        """``kind`` is a key of :data:`STATEMENT_ENDPOINTS`; ``period`` is quarter or annual."""
        if kind not in STATEMENT_ENDPOINTS:
            raise ValueError(f"unknown statement {kind!r}; one of {sorted(STATEMENT_ENDPOINTS)}")
        if period not in ("quarter", "annual"):
            raise ValueError("period must be 'quarter' or 'annual'")
        return self.get(STATEMENT_ENDPOINTS[kind], symbol, {"period": period, "limit": str(int(limit))})

    # -- transport --------------------------------------------------------------------------

    def get(self, endpoint: str, symbol: str, params: dict[str, str] | None = None) -> FmpPayload:
        """GET ``endpoint`` for one validated symbol; returns the payload or raises FmpError."""
        import pandas as pd
        import requests
        symbol = validate_ticker(symbol)
        public = {"symbol": symbol, **(params or {})}
        where = f"{endpoint}?symbol={symbol}"
        self.limiter.acquire()
        try:
            response = self.session.get(
                f"{self.base_url}{endpoint}",
                params={**public, "apikey": self._key},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            # `from None`: the original's text and args carry the full URL with the key.
            raise errors.FmpTransportError(
                f"{where}: {type(exc).__name__} after {self.retry.total} retries: "
                f"{scrub(str(exc), self._key)[:300]}"
            ) from None
        raw = response.content
        status = response.status_code
        retried = len(response.raw.retries.history) if getattr(response.raw, "retries", None) else 0
        if status != 200:
            cls = _BY_STATUS.get(status, errors.FmpServerError)
            note = f" after {retried} retries" if status in RETRY_STATUSES else ""
            raise cls(f"{where}: HTTP {status}{note}: {_snippet(raw, self._key)}", status=status)
        data = self._decode(raw, where)
        return FmpPayload(
            endpoint=endpoint, symbol=symbol, params=public, raw=raw, data=data,
            fetched_at=pd.Timestamp.now(tz="UTC"),
        )

    def _decode(self, raw: bytes, where: str) -> list[dict[str, Any]]:
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise errors.FmpMalformedResponse(
                f"{where}: body is not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc}; "
                f"{len(raw)} bytes, possibly truncated)", status=200
            ) from None
        if isinstance(body, dict) and "Error Message" in body:
            raise errors.FmpErrorMessage(
                f"{where}: HTTP 200 with Error Message: {scrub(str(body['Error Message']), self._key)[:300]}",
                status=200,
            )
        if isinstance(body, dict):
            body = [body]  # a few endpoints answer a single object
        if not isinstance(body, list) or not all(isinstance(row, dict) for row in body):
            raise errors.FmpMalformedResponse(
                f"{where}: expected a JSON list of objects, got {type(body).__name__}", status=200
            )
        if not body:
            raise errors.FmpNoData(
                f"{where}: empty answer ([]): the plan does not cover this symbol, or FMP has no "
                "data for it", status=200
            )
        return body


def _snippet(raw: bytes, key: str) -> str:
    """The start of an error body, decoded leniently and scrubbed (FMP sometimes echoes URLs)."""
    text = raw[:300].decode("utf-8", errors="replace")
    try:
        body = json.loads(raw)
        if isinstance(body, dict):
            text = str(body.get("Error Message") or body.get("message") or body)
    except (ValueError, UnicodeDecodeError):
        pass
    return " ".join(scrub(text, key).split())[:200] or "(empty body)"
