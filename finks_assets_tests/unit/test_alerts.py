"""Alert sensors, evaluated tick by tick as the daemon does, posting to a loopback receiver.

The receiver is a real HTTP server on 127.0.0.1; the runs are real Dagster runs on a
temporary instance. Slack is not exercised (no offline Slack API); its path shares the
message builder tested here.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest

from finks_assets.defs.ops.alerts import AlertResource, check_failure_alert, run_failure_alert
from finks_assets.lib.alert_messages import redact

SECRET = "sk_live_0123456789abcdef"


class Receiver:
    def __init__(self) -> None:
        self.messages: list[dict] = []
        received = self.messages

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()
        r.thread.join(timeout=5)


partitions = dg.StaticPartitionsDefinition(["2025-11-25"])


@dg.asset(partitions_def=partitions)
def exploding_asset() -> None:
    raise RuntimeError(
        f"vendor call failed: GET https://vendor.example/api?apikey={SECRET} -> HTTP 503\n"
        "retries exhausted"
    )


@dg.asset(
    partitions_def=partitions,
    check_specs=[dg.AssetCheckSpec("looks_odd", asset="warned_asset")],
)
def warned_asset():
    yield dg.Output(1)
    yield dg.AssetCheckResult(check_name="looks_odd", passed=False,
                              severity=dg.AssetCheckSeverity.WARN)


def definitions(url: str) -> dg.Definitions:
    return dg.Definitions(
        assets=[exploding_asset, warned_asset],
        jobs=[dg.define_asset_job("explode", [exploding_asset], partitions_def=partitions),
              dg.define_asset_job("warn", [warned_asset], partitions_def=partitions)],
        sensors=[run_failure_alert, check_failure_alert],
        resources={"alerts": AlertResource(webhook_url=url)},
    )


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, name: str, cursor: str | None):
    repository = defs.get_repository_def()
    sensor = repository.get_sensor_def(name)
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, sensor_name=name, repository_def=repository,
        resources={"alerts": defs.resources["alerts"]},
    )
    data = sensor.evaluate_tick(context)
    return data.cursor


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as inst:
        yield inst


def test_a_run_failure_posts_exactly_one_message_with_the_run_id(
    receiver: Receiver, instance: dg.DagsterInstance
) -> None:
    defs = definitions(receiver.url)
    cursors = {n: tick(defs, instance, n, None) for n in ("run_failure_alert", "check_failure_alert")}
    result = defs.resolve_job_def("explode").execute_in_process(
        instance=instance, partition_key="2025-11-25", raise_on_error=False
    )
    assert not result.success
    for _ in range(3):  # later ticks must not repeat the alert
        for name in cursors:
            cursors[name] = tick(defs, instance, name, cursors[name])

    assert len(receiver.messages) == 1
    message = receiver.messages[0]
    assert message["kind"] == "run_failure" and message["run_id"] == result.run_id
    assert result.run_id in message["text"]
    assert message["partition"] == "2025-11-25"
    assert "exploding_asset" in message["assets"]
    assert any("HTTP 503" in line for line in message["errors"])
    assert SECRET not in json.dumps(message)
    assert "apikey=***" in message["text"]


def test_failed_warn_checks_in_a_successful_run_post_one_message(
    receiver: Receiver, instance: dg.DagsterInstance
) -> None:
    defs = definitions(receiver.url)
    cursors = {n: tick(defs, instance, n, None) for n in ("run_failure_alert", "check_failure_alert")}
    result = defs.resolve_job_def("warn").execute_in_process(
        instance=instance, partition_key="2025-11-25"
    )
    assert result.success
    for _ in range(2):
        for name in cursors:
            cursors[name] = tick(defs, instance, name, cursors[name])
    assert [m["kind"] for m in receiver.messages] == ["check_failure"]
    assert receiver.messages[0]["run_id"] == result.run_id
    assert receiver.messages[0]["failed_checks"] == ["warned_asset:looks_odd (WARN)"]


def test_without_a_target_nothing_is_sent(receiver: Receiver, instance: dg.DagsterInstance) -> None:
    defs = dg.Definitions(
        assets=[exploding_asset],
        jobs=[dg.define_asset_job("explode", [exploding_asset], partitions_def=partitions)],
        sensors=[run_failure_alert], resources={"alerts": AlertResource()},
    )
    cursor = tick(defs, instance, "run_failure_alert", None)
    defs.resolve_job_def("explode").execute_in_process(
        instance=instance, partition_key="2025-11-25", raise_on_error=False)
    tick(defs, instance, "run_failure_alert", cursor)
    assert receiver.messages == []


@pytest.mark.parametrize(
    "leaky",
    [
        "https://user:hunter2@s3.example.com/bucket",
        "Authorization: Bearer abc.def.ghi",
        "AWS key AKIAABCDEFGHIJKLMNOP used",
        "token=xoxb-123-456-abcdef",
        "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
        'FMP_API_KEY="0123abcd"',
    ],
)
def test_redact_masks_credentials(leaky: str) -> None:
    cleaned = redact(leaky)
    for secret in ("hunter2", "abc.def.ghi", "AKIAABCDEFGHIJKLMNOP", "xoxb-123", "XXXXXXXX", "0123abcd"):
        assert secret not in cleaned
