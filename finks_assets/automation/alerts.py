"""Alerts: a run-failure sensor and a check-failure sensor, posting to a webhook and Slack.

Exactly one message per run: a failed run is reported by ``run_failure_alert`` (its message
includes the checks that failed in it); a run that *succeeded* with failed (WARN) checks is
reported by ``check_failure_alert``. Targets are optional: with neither a webhook nor Slack
configured the sensors evaluate and send nothing.
"""

from __future__ import annotations

import json
import logging

import dagster as dg
import urllib3

from finks_assets.automation.alert_messages import (
    AlertMessage,
    dedupe,
    failed_check_names,
    first_lines,
    run_partition,
    step_errors,
)

log = logging.getLogger("finks.alerts")


class AlertResource(dg.ConfigurableResource):
    """Where alerts go. URLs and tokens come in as ``EnvVar`` (see the resource factory)."""

    webhook_url: str | None = None
    slack_token: str | None = None
    slack_channel: str = "#finks-alerts"
    timeout_seconds: float = 5.0

    def send(self, message: AlertMessage) -> int:
        """Post ``message`` to every configured target; returns how many accepted it."""
        delivered = 0
        if self.webhook_url:
            http = urllib3.PoolManager(retries=urllib3.Retry(total=2, backoff_factor=0.5,
                                                             status_forcelist=(502, 503, 504)))
            response = http.request(
                "POST", self.webhook_url, body=json.dumps(message.payload()).encode(),
                headers={"Content-Type": "application/json"}, timeout=self.timeout_seconds,
            )
            if response.status < 300:
                delivered += 1
            else:  # never log the URL: it often carries a token
                log.warning("alert webhook answered HTTP %s", response.status)
        if self.slack_token:
            from dagster_slack import SlackResource

            client = SlackResource(token=self.slack_token).get_client()
            client.chat_postMessage(channel=self.slack_channel, text=message.text)
            delivered += 1
        return delivered


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
        return dg.SkipReason(f"run {context.dagster_run.run_id}: every check passed")
    sent = alerts.send(message)
    context.log.info(f"check failure alert for {message.run_id} sent to {sent} target(s)")
    return None
