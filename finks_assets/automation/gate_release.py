"""Release the passing partitions of a single-run range whose silver gate held a partition.

See :mod:`finks_assets.quality.gate` for the design. The release job selects everything
downstream of silver (staging, intermediate, gold) and reads the silver already written, so
it re-fetches nothing. Each passing stretch of consecutive days is one run (still a single
dbt pass per stretch); the run key makes a sensor tick idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from finks_assets.automation.alert_messages import RANGE_END_TAG, RANGE_START_TAG
from finks_assets.automation.freshness import freshness_checks
from finks_assets.automation.jobs import FMP_EOD_PATH, PARTITION_WRITER_TAG, daily_bars_job
from finks_assets.partitions import trading_days
from finks_assets.quality.gate import ranges_to_release

GOLD_RELEASE_JOB = "gold_release"
_SILVER = dg.AssetSelection.assets(
    dg.AssetKey(["silver", "bars_1m"]), dg.AssetKey(["silver", "bars_1m_quarantine"])
)

_AFTER_SILVER = _SILVER.downstream() - _SILVER
gold_release_job = dg.define_asset_job(
    name=GOLD_RELEASE_JOB,
    # Everything after silver plus what it needs that silver does not (dbt seeds), never bronze.
    # FMP EOD (upstream of gold through stg_fmp__bars_1d) is a fetch too: never part of a release.
    selection=_AFTER_SILVER.upstream() - _SILVER.upstream() - FMP_EOD_PATH
    - dg.AssetSelection.checks(*freshness_checks),
    partitions_def=trading_days,
    tags={PARTITION_WRITER_TAG: "gold"},
    description="dbt gold for the partitions that passed the silver gate of a held range.",
)


def release_requests(run_id: str, evaluations: Iterable[dg.AssetCheckEvaluation]) -> list[dg.RunRequest]:
    return [
        dg.RunRequest(
            run_key=f"release_{run_id}_{first}_{last}",
            tags={RANGE_START_TAG: first, RANGE_END_TAG: last, "finks/released_from": run_id},
        )
        for first, last in ranges_to_release(evaluations)
    ]


def run_check_evaluations(instance: dg.DagsterInstance, run_id: str) -> list[dg.AssetCheckEvaluation]:
    return [
        entry.dagster_event.event_specific_data
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    ]


@dg.run_failure_sensor(
    name="gate_release_sensor",
    monitored_jobs=[daily_bars_job],
    request_job=gold_release_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After a range run whose silver gate held some days, builds gold for the rest.",
)
def gate_release_sensor(context: dg.RunFailureSensorContext):
    run_id = context.dagster_run.run_id
    requests = release_requests(run_id, run_check_evaluations(context.instance, run_id))
    return requests or dg.SkipReason(f"run {run_id}: no held partition to work around")


def release_in_process(
    defs: dg.Definitions, result: dg.ExecuteInProcessResult, instance: dg.DagsterInstance | None
) -> list[dg.ExecuteInProcessResult]:
    """What the sensor does, synchronously: used by ``finks demo`` and in-process range runs."""
    evaluations = result.get_asset_check_evaluations()
    job = defs.resolve_job_def(GOLD_RELEASE_JOB)
    return [
        job.execute_in_process(instance=instance, tags=request.tags, raise_on_error=False)
        for request in release_requests(result.run_id, evaluations)
    ]
