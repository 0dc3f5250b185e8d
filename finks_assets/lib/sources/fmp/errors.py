"""Typed FMP failures. Every message is built by us from key-free parts (never ``str()`` of a
``requests`` exception, which embeds the full URL with ``apikey``), so it is safe to log, to put
in the ingestion audit and to show in Dagster metadata.
"""

from __future__ import annotations

from finks_assets.lib.sources.base import SourceError


class FmpError(SourceError):
    """Base class: ``reason`` is a short machine-friendly code for the audit's ``error``."""

    reason = "fmp_error"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    def describe(self) -> str:
        return f"{self.reason}: {self}"


class FmpAuthError(FmpError):
    """HTTP 401: the key is missing or invalid. Fails every ticker alike."""

    reason = "unauthorized"


class FmpPlanError(FmpError):
    """HTTP 402: the symbol or endpoint is outside the subscription plan."""

    reason = "plan_restricted"


class FmpForbiddenError(FmpError):
    """HTTP 403: the key may not use this endpoint (e.g. a legacy one)."""

    reason = "forbidden"


class FmpNotFound(FmpError):
    """HTTP 404: no such endpoint or resource. Not retried and not a server fault: a 404 is a
    wrong path (base URL, endpoint moved) or a symbol FMP does not know, and retrying or
    labelling it ``server_error`` would send the reader to look at FMP's health instead."""

    reason = "not_found"


class FmpErrorMessage(FmpError):
    """HTTP 200 whose body is ``{"Error Message": ...}``: FMP's way of reporting invalid keys,
    legacy endpoints and exhausted quotas without an error status."""

    reason = "error_message"


class FmpRateLimited(FmpError):
    """HTTP 429 on every allowed attempt."""

    reason = "rate_limited"


class FmpServerError(FmpError):
    """HTTP 5xx on every allowed attempt, or another unexpected status."""

    reason = "server_error"


class FmpTransportError(FmpError):
    """Timeouts and connection failures that outlasted the retries."""

    reason = "transport_error"


class FmpMalformedResponse(FmpError):
    """The body is not the JSON FMP promises (truncated, HTML, wrong shape)."""

    reason = "malformed_response"


class FmpNoData(FmpError):
    """``[]``: FMP has nothing for the symbol, typically because the plan does not cover it."""

    reason = "no_data"
