"""The FMP domain: end-of-day prices by trading day, per-ticker profiles and statements, the
universe sensor that keeps ticker partitions in step with ``FINKS_UNIVERSE``, and the
reconciliation of 1-minute daily bars against FMP's EOD bars."""

from __future__ import annotations

import dagster as dg

from finks_assets.defs.fmp.eod import bronze_fmp_eod, silver_fmp_bars_1d
from finks_assets.defs.fmp.jobs import fmp_eod_job, fmp_reference_job
from finks_assets.defs.fmp.reconciliation import fmp_eod_reconciliation
from finks_assets.defs.fmp.reference import fmp_reference_assets, universe_partitions_sensor
from finks_assets.lib.partitions import range_backfill_policy
from finks_assets.lib.settings import FinksSettings


def build_defs(settings: FinksSettings) -> dg.Definitions:
    policy = range_backfill_policy(settings.run_days)
    return dg.Definitions(
        assets=[bronze_fmp_eod.with_attributes(backfill_policy=policy),
                silver_fmp_bars_1d.with_attributes(backfill_policy=policy),
                *fmp_reference_assets],
        asset_checks=[fmp_eod_reconciliation],
        jobs=[fmp_eod_job, fmp_reference_job],
        sensors=[universe_partitions_sensor],
    )
