"""The named checks on silver bars: severity, blocking flag, and how to run them all.

One table drives the asset's check specs, the results it yields, the validation report and
the per-partition gate, so a check cannot be declared in one place and forgotten in another.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import dagster as dg

from finks_assets.lib.quality.anomalies import check_outlier_jumps, check_stale_prices
from finks_assets.lib.quality.check_base import CheckDB, CheckOutcome
from finks_assets.lib.quality.coverage import check_intraday_gaps, check_row_count_anomaly
from finks_assets.lib.quality.integrity import (
    check_in_session,
    check_monotonic_ts,
    check_non_negative_volume,
    check_ohlc_invariants,
    check_positive_prices,
    check_unique_ticker_ts,
    value_violations,
)
from finks_assets.lib.quality.thresholds import BarQualityThresholds

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class BarCheck:
    name: str
    description: str
    blocking: bool

    @property
    def severity(self) -> dg.AssetCheckSeverity:
        return dg.AssetCheckSeverity.ERROR if self.blocking else dg.AssetCheckSeverity.WARN


BAR_CHECKS: tuple[BarCheck, ...] = (
    BarCheck("ohlc_invariants", "high >= max(open, close), low <= min(open, close), no null field", True),
    BarCheck("positive_prices", "open, high, low and close are all > 0", True),
    BarCheck("non_negative_volume", "volume >= 0", True),
    BarCheck("unique_ticker_ts", "no duplicate (ticker, ts)", True),
    BarCheck("monotonic_ts", "rows of a ticker are stored in increasing ts order", True),
    BarCheck("bars_in_session", "every bar starts inside its XNYS session, half days included", True),
    BarCheck("intraday_gaps", "a bar for every minute of each XNYS session per ticker (WARN)", False),
    BarCheck("stale_prices", "no long run of identical closes with zero volume (WARN)", False),
    BarCheck("outlier_jumps", "no bar-to-bar close move beyond the threshold (WARN)", False),
    BarCheck("row_count_anomaly", "bars per ticker-day near its trailing median (WARN)", False),
)
BLOCKING_CHECK_NAMES = tuple(c.name for c in BAR_CHECKS if c.blocking)


def run_bar_checks(
    bars: pd.DataFrame,
    days: list[dt.date],
    history: pd.DataFrame,
    thresholds: BarQualityThresholds,
) -> dict[str, CheckOutcome]:
    """Every check of :data:`BAR_CHECKS` over the run's silver bars, by check name.

    All checks share one DuckDB table of the bars, with the (ticker, ts) ordering (CheckDB).
    """
    t = thresholds
    with CheckDB(bars) as db:
        violations = value_violations(db)
        return {
            "ohlc_invariants": check_ohlc_invariants(db, violations),
            "positive_prices": check_positive_prices(db, violations),
            "non_negative_volume": check_non_negative_volume(db, violations),
            "unique_ticker_ts": check_unique_ticker_ts(db),
            "monotonic_ts": check_monotonic_ts(db),
            "bars_in_session": check_in_session(db, days),
            "intraday_gaps": check_intraday_gaps(db, days, t.max_missing_minutes),
            "stale_prices": check_stale_prices(db, t.max_stale_bars),
            "outlier_jumps": check_outlier_jumps(db, t.max_abs_return, t.jump_median_window),
            "row_count_anomaly": check_row_count_anomaly(
                db, days, history, t.row_count_trailing_sessions, t.row_count_min_history,
                t.row_count_min_ratio, t.row_count_max_ratio,
            ),
        }
