"""Alert messages built from a Dagster run: what failed, where, and the first error lines.

Every text that leaves Finks passes :func:`redact` first: error messages can quote URLs with
API keys, signed S3 URLs, tokens or webhook paths, and an alert channel is a much wider audience
than a log. :func:`redact` also applies the urllib3 log filter's ``scrub`` (webhook paths and
every secret registered by value), so both places mask the same things.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

import dagster as dg

from finks_assets.lib.sources.fmp.redact import scrub

ERROR_LINES = 5
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

_SECRET_PATTERNS = [
    (re.compile(r"(?i)\bbearer\s+[a-z0-9._\-]+"), "Bearer ***"),
    (re.compile(r"(?i)((?:api[_-]?key|apikey|token|secret|password|passwd|signature|"
                r"x-amz-[a-z-]+|authorization)[\"']?\s*[=:]\s*[\"']?)([^\s&\"',;]+)"), r"\1***"),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "***AWS_KEY_ID***"),
    (re.compile(r"(https?://)[^/\s:@]+:[^/\s@]+@"), r"\1***@"),
    (re.compile(r"https://hooks\.slack\.com/\S+"), "https://hooks.slack.com/***"),
    (re.compile(r"\bxox[abpr]-[A-Za-z0-9-]+"), "xox*-***"),
]


def redact(text: str) -> str:
    """Mask anything that looks like a credential (keys, tokens, passwords in URLs)."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return scrub(text)


@dataclass
class AlertMessage:
    """One alert: a run-level event with everything a responder needs to start."""

    kind: str  # "run_failure" | "check_failure"
    run_id: str
    job: str
    partition: str | None
    assets: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        head = "Finks run FAILED" if self.kind == "run_failure" else "Finks checks failed"
        lines = [
            f"{head}: job {self.job}, run {self.run_id}",
            f"partition: {self.partition or '-'}",
            f"assets: {', '.join(self.assets) or '-'}",
        ]
        if self.failed_checks:
            lines.append(f"failed checks: {', '.join(self.failed_checks)}")
        lines.extend(self.errors)
        return redact("\n".join(lines))

    def payload(self) -> dict[str, object]:
        body = {k: v for k, v in asdict(self).items()}
        body["errors"] = [redact(e) for e in self.errors]
        body["text"] = self.text
        return body


def run_partition(run: dg.DagsterRun) -> str | None:
    tags = run.tags
    if PARTITION_TAG in tags:
        return tags[PARTITION_TAG]
    if RANGE_START_TAG in tags:
        return f"{tags[RANGE_START_TAG]}..{tags.get(RANGE_END_TAG, '?')}"
    return None


def first_lines(text: str, count: int = ERROR_LINES) -> list[str]:
    return [line for line in text.strip().splitlines() if line.strip()][:count]


def failed_check_names(instance: dg.DagsterInstance, run_id: str) -> tuple[list[str], list[str]]:
    """(failed check names as asset:check, asset keys of the run's materializations)."""
    failed, assets = [], []
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed:
                failed.append(f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
                              f" ({evaluation.severity.value})")
        elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            key = event.asset_key.to_user_string()
            if key not in assets:
                assets.append(key)
    return failed, assets


def step_errors(failures: Sequence[dg.DagsterEvent]) -> tuple[list[str], list[str]]:
    """(step keys, first error lines) of a run's step-failure events."""
    steps, errors = [], []
    for event in failures:
        steps.append(event.step_key or "?")
        error = getattr(event.event_specific_data, "error", None)
        while error is not None and error.cause is not None:  # the user's exception, not
            error = error.cause  # Dagster's "error occurred while executing op" wrapper
        if error is not None:
            errors.extend(f"[{event.step_key}] {line}" for line in first_lines(error.message))
    return steps, errors


def dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
