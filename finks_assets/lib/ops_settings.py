"""Operational settings of the quality gates, alerts and logs (values; read by settings.py).

Secrets (the webhook URL, which often embeds a token, and the Slack bot token) are never held
here: only whether they are configured. The resource factory hands Dagster an ``EnvVar`` for
them, so their values appear neither in resource config shown by the UI nor in logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

LogFormat = Literal["text", "json"]
WEBHOOK_URL_VAR = "FINKS_ALERT_WEBHOOK_URL"
SLACK_TOKEN_VAR = "FINKS_SLACK_TOKEN"


@dataclass(frozen=True)
class OpsSettings:
    log_format: LogFormat = "text"
    # {"bars_1m": {"max_abs_return": "0.3"}} from FINKS_QUALITY__BARS_1M__MAX_ABS_RETURN=0.3
    quality_overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    webhook_configured: bool = False
    slack_configured: bool = False
    slack_channel: str = "#finks-alerts"
