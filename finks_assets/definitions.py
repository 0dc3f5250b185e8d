"""The Finks code location.

``@dg.definitions`` defers all work (reading the environment, loading the dbt manifest) until
Dagster asks for the definitions, so importing this module is cheap and side-effect free.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from finks_assets.import_heap import loading_heap

# Dagster, dagster-dbt and dbt-core load with the cyclic GC paused, their heap frozen after
# (see import_heap: ~0.5 s of the load).
with loading_heap():
    import dagster as dg

    from finks_assets.assets.bronze import bronze_bars_1m
    from finks_assets.assets.fmp_gold import fmp_eod_reconciliation, fmp_reference_dbt_assets
    from finks_assets.assets.fmp_prices import bronze_fmp_eod, silver_bars_1d
    from finks_assets.assets.fmp_reference import fmp_reference_assets, universe_partitions_sensor
    from finks_assets.assets.gold import gold_dbt_assets
    from finks_assets.assets.silver import silver_bars_1m
    from finks_assets.automation.alerts import check_failure_alert, run_failure_alert
    from finks_assets.automation.freshness import freshness_checks, freshness_sensor
    from finks_assets.automation.gate_release import gate_release_sensor, gold_release_job
    from finks_assets.automation.jobs import daily_bars_job_for, fmp_eod_job, fmp_reference_job
    from finks_assets.automation.schedules import after_close_schedule
    from finks_assets.automation.sensors import s3_arrival_sensor
    from finks_assets.logging import configure_logging
    from finks_assets.resources.factory import build_resources
    from finks_assets.settings import FinksSettings


def build_definitions(
    settings: FinksSettings, resource_overrides: Mapping[str, Any] | None = None
) -> dg.Definitions:
    """All Finks definitions for ``settings``; tests swap single resources via overrides."""
    configure_logging(settings.ops.log_format)
    return dg.Definitions(
        assets=[bronze_bars_1m, silver_bars_1m, gold_dbt_assets(), bronze_fmp_eod, silver_bars_1d,
                *fmp_reference_assets, fmp_reference_dbt_assets()],
        asset_checks=[*freshness_checks, fmp_eod_reconciliation],
        jobs=[daily_bars_job_for(settings.source), gold_release_job, fmp_eod_job, fmp_reference_job],
        schedules=[after_close_schedule],
        sensors=[run_failure_alert, check_failure_alert, gate_release_sensor, freshness_sensor,
                 s3_arrival_sensor, universe_partitions_sensor],
        resources={**build_resources(settings), **(resource_overrides or {})},
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(FinksSettings.from_env())
