"""Where alerts go: a webhook and/or Slack. URLs and tokens arrive as ``EnvVar`` references.

A webhook URL is a credential: Slack- and Discord-style webhooks carry their token in the path.
urllib3 quotes that path in ``MaxRetryError`` and in its retry warnings, and whatever a sensor
raises ends up in the tick (UI, ``schedules.db``) and the daemon log. So a failed delivery is
caught here and reported by status or exception class only, and the URL is registered with the
urllib3 log filter, which scrubs it from urllib3's own log lines.
"""

from __future__ import annotations

import json
import logging

import dagster as dg
import urllib3

from finks_assets.lib.alert_messages import AlertMessage
from finks_assets.lib.sources.fmp.redact import install_log_redaction, register_secret

log = logging.getLogger("finks.alerts")


class AlertResource(dg.ConfigurableResource):
    """Where alerts go. URLs and tokens come in as ``EnvVar`` (see the resource factory)."""

    webhook_url: str | None = None
    slack_token: str | None = None
    slack_channel: str = "#finks-alerts"
    timeout_seconds: float = 5.0

    def send(self, message: AlertMessage) -> int:
        """Post ``message`` to every configured target; returns how many accepted it.

        Never raises for a delivery failure: one unreachable target must not stop the other,
        and the exception text would carry the URL into the sensor tick.
        """
        delivered = 0
        if self.webhook_url:
            delivered += self._post_webhook(self.webhook_url, message)
        if self.slack_token:
            delivered += self._post_slack(self.slack_token, message)
        return delivered

    def _post_webhook(self, url: str, message: AlertMessage) -> int:
        install_log_redaction()
        register_secret(url)
        http = urllib3.PoolManager(retries=urllib3.Retry(total=2, backoff_factor=0.5,
                                                         status_forcelist=(502, 503, 504)))
        try:
            response = http.request(
                "POST", url, body=json.dumps(message.payload()).encode(),
                headers={"Content-Type": "application/json"}, timeout=self.timeout_seconds,
            )
        except Exception as exc:  # noqa: BLE001 - any failure; its text may quote the URL
            log.warning("alert webhook delivery failed: %s", type(exc).__name__)
            return 0
        finally:
            http.clear()
        if response.status < 300:
            return 1
        log.warning("alert webhook answered HTTP %s", response.status)
        return 0

    def _post_slack(self, token: str, message: AlertMessage) -> int:
        from dagster_slack import SlackResource

        try:
            client = SlackResource(token=token).get_client()
            client.chat_postMessage(channel=self.slack_channel, text=message.text)
        except Exception as exc:  # noqa: BLE001 - same rule as the webhook: class only
            log.warning("alert Slack delivery failed: %s", type(exc).__name__)
            return 0
        return 1
