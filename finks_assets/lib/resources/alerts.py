"""Where alerts go: a webhook and/or Slack. URLs and tokens arrive as ``EnvVar`` references."""

from __future__ import annotations

import json
import logging

import dagster as dg
import urllib3

from finks_assets.lib.alert_messages import AlertMessage

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
