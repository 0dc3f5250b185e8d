"""The 1-minute bar domain: bronze and silver assets, the daily job, its schedule and the
landing sensor. Bronze and silver backfills are cut by Dagster into runs of
``FINKS_PARTITIONS_PER_RUN`` days (the one setting this domain reads)."""

from __future__ import annotations

import dagster as dg

from finks_assets.defs.bars_1m.bronze import bronze_bars_1m
from finks_assets.defs.bars_1m.jobs import daily_bars_job_for
from finks_assets.defs.bars_1m.landing_sensor import landed_bars_job, s3_arrival_sensor
from finks_assets.defs.bars_1m.restatements import build_restatement_defs
from finks_assets.defs.bars_1m.schedule import after_close_schedule
from finks_assets.defs.bars_1m.silver import silver_bars_1m
from finks_assets.lib.partitions import range_backfill_policy
from finks_assets.lib.settings import FinksSettings


def build_defs(settings: FinksSettings) -> dg.Definitions:
    policy = range_backfill_policy(settings.run_days)
    return dg.Definitions.merge(dg.Definitions(
        assets=[bronze_bars_1m.with_attributes(backfill_policy=policy),
                silver_bars_1m.with_attributes(backfill_policy=policy)],
        jobs=[daily_bars_job_for(settings.source), landed_bars_job],
        schedules=[after_close_schedule],
        sensors=[s3_arrival_sensor],
    ), build_restatement_defs(settings))
