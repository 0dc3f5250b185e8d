"""The operations domain: failure alerts and freshness checks with their sensor."""

from __future__ import annotations

import dagster as dg

from finks_assets.defs.ops.alerts import check_failure_alert, run_failure_alert
from finks_assets.defs.ops.freshness import freshness_checks, freshness_sensor
from finks_assets.lib.settings import FinksSettings


def build_defs(settings: FinksSettings) -> dg.Definitions:
    del settings  # alert targets come in through the `alerts` resource
    return dg.Definitions(
        asset_checks=freshness_checks,
        sensors=[run_failure_alert, check_failure_alert, freshness_sensor],
    )
