"""A webhook URL is a secret: a failed delivery must not leak it (issue 18, item 2).

Slack- and Discord-style webhooks carry their token in the URL *path*, and urllib3 quotes that
path in ``MaxRetryError`` and in its retry warnings. Here the webhook points at a closed
loopback port (real HTTP, nothing mocked), so delivery fails exactly as it would in production;
the marker token must then appear in no log record, no exception and no message Dagster keeps.
"""

from __future__ import annotations

import io
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from finks_assets.defs.ops.alerts import run_failure_alert
from finks_assets.lib.alert_messages import AlertMessage, redact
from finks_assets.lib.logging import FINKS_LOGGER, configure_logging, get_logger
from finks_assets.lib.resources.alerts import AlertResource
from finks_assets.lib.sources.fmp.redact import scrub
from finks_assets_tests.unit.test_alerts import exploding_asset, partitions

MARKER = "MARKERtok3nZq7Xw9"  # looks like nothing a message would contain by chance
WEBHOOK_PATHS = [
    f"/services/T0001/B0002/{MARKER}",  # Slack
    f"/api/webhooks/123456789/{MARKER}",  # Discord
    f"/hooks/finks/{MARKER}",  # any other shape: caught by value, not by pattern
]


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released): connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as inst:
        yield inst


def _everything_in(tmp_path: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace")
                     for p in tmp_path.rglob("*") if p.is_file())


@pytest.mark.parametrize("path", WEBHOOK_PATHS)
def test_failed_delivery_reports_the_error_class_not_the_url(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    alerts = AlertResource(webhook_url=f"http://127.0.0.1:{closed_port()}{path}", timeout_seconds=2)
    message = AlertMessage(kind="run_failure", run_id="r1", job="j", partition=None)
    with caplog.at_level(logging.DEBUG):  # urllib3 logs each retry with the request path
        delivered = alerts.send(message)
    assert delivered == 0
    assert "MaxRetryError" in caplog.text  # the operator still learns what went wrong
    assert any(r.name.startswith("urllib3") for r in caplog.records)  # its retry lines were seen
    for record in caplog.records:
        assert MARKER not in record.getMessage(), record.name
    assert MARKER not in caplog.text


def test_the_failure_sensor_tick_keeps_no_trace_of_the_webhook(
    instance: dg.DagsterInstance, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{closed_port()}{WEBHOOK_PATHS[0]}"
    defs = dg.Definitions(
        assets=[exploding_asset],
        jobs=[dg.define_asset_job("explode", [exploding_asset], partitions_def=partitions)],
        sensors=[run_failure_alert], resources={"alerts": AlertResource(webhook_url=url)},
    )
    repository = defs.get_repository_def()
    sensor = repository.get_sensor_def("run_failure_alert")

    def tick(cursor: str | None) -> dg.SensorResult | object:
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, sensor_name="run_failure_alert",
            repository_def=repository, resources={"alerts": defs.resources["alerts"]},
        )
        return sensor.evaluate_tick(context)

    cursor = tick(None).cursor
    result = defs.resolve_job_def("explode").execute_in_process(
        instance=instance, partition_key="2025-11-25", raise_on_error=False)
    assert not result.success
    with caplog.at_level(logging.DEBUG):
        try:
            data = tick(cursor)
            raised = ""
        except Exception as exc:  # noqa: BLE001 - the test inspects whatever escaped
            data, raised = None, f"{exc!r}\n{exc.__cause__!r}\n{exc.__context__!r}"
    assert MARKER not in raised
    assert raised == "", "a failed delivery must not fail the tick with the URL in its error"
    assert MARKER not in repr(data)
    assert MARKER not in caplog.text
    assert MARKER not in _everything_in(tmp_path)  # Dagster's storage: runs, events, logs


@pytest.mark.parametrize(
    "text",
    [
        f"https://hooks.slack.com/services/T0001/B0002/{MARKER}",
        f"https://discord.com/api/webhooks/123456789/{MARKER}",
        f"https://discordapp.com/api/webhooks/123456789/{MARKER}?wait=true",
        f"Max retries exceeded with url: /services/T0001/B0002/{MARKER} (Caused by ...)",
        f"Retrying ... after connection broken by 'x': /api/webhooks/123456789/{MARKER}",
    ],
)
def test_redaction_covers_webhook_paths(text: str) -> None:
    assert MARKER not in redact(text)
    assert MARKER not in scrub(text)


def test_finks_log_lines_mask_webhook_urls() -> None:
    stream = io.StringIO()
    handler = configure_logging("json", stream=stream)
    try:
        get_logger("alerts").warning("posting to %s", f"https://discord.com/api/webhooks/1/{MARKER}")
    finally:
        logging.getLogger(FINKS_LOGGER).removeHandler(handler)
    assert "posting to https://discord.com/api/webhooks/***" in stream.getvalue()
    assert MARKER not in stream.getvalue()
