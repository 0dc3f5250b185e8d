"""Alerts: a run-failure sensor and a check-failure sensor, posting to a webhook and Slack.

Exactly one message per run: a failed run is reported by ``run_failure_alert`` (its message
includes the checks that failed in it); a run that *succeeded* with failed (WARN) checks is
reported by ``check_failure_alert``. Targets are optional: with neither a webhook nor Slack
configured the sensors evaluate and send nothing.
"""

from __future__ import annotations

import dagster as dg

from finks_assets.lib.alert_messages import (
    AlertMessage,
    dedupe,
    failed_check_names,
    first_lines,
    run_partition,
    step_errors,
)
from finks_assets.lib.resources.alerts import AlertResource


def run_failure_message(context: dg.RunFailureSensorContext) -> AlertMessage:
    run = context.dagster_run
    steps, errors = step_errors(context.get_step_failure_events())
    if not errors and context.failure_event.message:
        errors = first_lines(context.failure_event.message)
    failed, assets = failed_check_names(context.instance, run.run_id)
    return AlertMessage(
        kind="run_failure", run_id=run.run_id, job=run.job_name, partition=run_partition(run),
        assets=dedupe([*assets, *steps]), errors=errors, failed_checks=failed,
    )


@dg.run_failure_sensor(
    name="run_failure_alert",
    monitor_all_code_locations=True,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts one message per failed run (run id, partition, assets, first error lines).",
)
def run_failure_alert(context: dg.RunFailureSensorContext, alerts: AlertResource):
    message = run_failure_message(context)
    sent = alerts.send(message)
    context.log.info(f"run failure alert for {message.run_id} sent to {sent} target(s)")


def check_failure_message(context: dg.RunStatusSensorContext) -> AlertMessage | None:
    run = context.dagster_run
    failed, assets = failed_check_names(context.instance, run.run_id)
    if not failed:
        return None
    return AlertMessage(
        kind="check_failure", run_id=run.run_id, job=run.job_name, partition=run_partition(run),
        assets=assets, failed_checks=failed,
    )


@dg.run_status_sensor(
    name="check_failure_alert",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitor_all_code_locations=True,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts one message per successful run that had failed (WARN) asset checks.",
)
def check_failure_alert(context: dg.RunStatusSensorContext, alerts: AlertResource):
    message = check_failure_message(context)
    if message is None:
        # Not a SkipReason: a tick that covers several runs may not mix skips and reactions.
        context.log.info(f"run {context.dagster_run.run_id}: every check passed")
        return None
    sent = alerts.send(message)
    context.log.info(f"check failure alert for {message.run_id} sent to {sent} target(s)")
    return None
