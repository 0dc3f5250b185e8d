"""Compatibility names for the bar checks, which now live in one module per family."""

from finks_assets.checks.base import CheckOutcome
from finks_assets.checks.coverage import session_completeness
from finks_assets.checks.integrity import (
    check_in_session,
    check_ohlc_invariants,
    check_unique_ticker_ts,
)

__all__ = [
    "CheckOutcome", "check_in_session", "check_ohlc_invariants", "check_unique_ticker_ts",
    "session_completeness",
]
