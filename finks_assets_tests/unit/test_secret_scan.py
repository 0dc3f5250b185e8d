"""Secret scan: with the FMP key and the alert webhook URL set to marker values, a
slice of the real system runs, and afterwards no file it wrote and no line it logged holds
either marker.

The slice, all real: the definitions built from settings (resources through the factory, the
secrets as Dagster ``EnvVar``s, as in production), the FMP EOD job for one session over HTTP
against the loopback FMP (one ticker refused with 402, one 429-then-200, the rest landed), a
run that fails (FMP answers 401 to every request), the ``run_failure_alert`` sensor tick
posting to the marker webhook on a closed port (delivery fails), and the data API over the
data directory, asked with the markers in its query string and key header. Dagster's
storage is a persistent ``DAGSTER_HOME`` under the same root (runs, event logs and schedule
sqlite databases, compute logs), so the scan covers it too, with every log record captured at
DEBUG (urllib3 included) and the process' stdout/stderr.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from fastapi.testclient import TestClient

from finks_api.app import create_app
from finks_api.config import ApiConfig
from finks_api.keys import KeyStore
from finks_assets.definitions import build_definitions
from finks_assets.defs.fmp.jobs import FMP_EOD_JOB
from finks_assets.lib.ops_settings import WEBHOOK_URL_VAR
from finks_assets.lib.settings import FinksSettings
from finks_assets_tests.fakes import fmp_server as fake
from finks_assets_tests.fakes.fmp_server import FakeFmpServer

FMP_MARKER = "FMPmarkerQ7x2Zp4Kw9"
HOOK_MARKER = "HOOKmarkerT5v8Lm3Rj6"
MARKERS = (FMP_MARKER, HOOK_MARKER)
DAY = "2025-11-24"
TICKERS = ["AAPL", "MSFT", "JPM", "NVDA"]


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def everything_logged() -> Iterator[list[logging.LogRecord]]:
    """Every record of every logger at DEBUG (urllib3 logs request paths at DEBUG)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep, root, urllib3 = Keep(logging.DEBUG), logging.getLogger(), logging.getLogger("urllib3")
    levels = root.level, urllib3.level
    root.addHandler(keep)
    root.setLevel(logging.DEBUG)
    urllib3.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        root.removeHandler(keep)
        root.setLevel(levels[0])
        urllib3.setLevel(levels[1])


def scan(root: Path) -> dict[str, list[str]]:
    """Files under ``root`` holding a marker, by marker (bytes, so sqlite pages count too)."""
    hits: dict[str, list[str]] = {m: [] for m in MARKERS}
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for marker in MARKERS:
                if marker.encode() in data:
                    hits[marker].append(str(path.relative_to(root)))
    return hits


def test_no_secret_reaches_disk_or_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
    everything_logged: list[logging.LogRecord],
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    webhook = f"http://127.0.0.1:{closed_port()}/services/T0001/B0002/{HOOK_MARKER}"
    with FakeFmpServer(api_key=FMP_MARKER) as server:
        env = {"FINKS_DATA_DIR": str(tmp_path / "finks"), "FINKS_UNIVERSE": ",".join(TICKERS),
               "FINKS_SOURCE": "fmp", "FMP_API_KEY": FMP_MARKER, "FMP_BASE_URL": server.base_url,
               WEBHOOK_URL_VAR: webhook, "DAGSTER_HOME": str(home)}
        for name, value in env.items():
            monkeypatch.setenv(name, value)  # the EnvVars resolve from the process environment
        settings = FinksSettings.from_env(env)
        defs = build_definitions(settings)
        server.script("JPM", fake.payment_required(), endpoint="eod")
        server.script("NVDA", fake.rate_limited(0), endpoint="eod")

        with dg.instance_for_test(temp_dir=str(home)) as instance:
            sensor = defs.get_repository_def().get_sensor_def("run_failure_alert")

            def tick(cursor: str | None):
                context = dg.build_sensor_context(
                    instance=instance, cursor=cursor, sensor_name="run_failure_alert",
                    repository_def=defs.get_repository_def(),
                    resources={"alerts": defs.resources["alerts"]})
                return sensor.evaluate_tick(context)

            cursor = tick(None).cursor
            job = defs.resolve_job_def(FMP_EOD_JOB)
            landed = job.execute_in_process(instance=instance, partition_key=DAY,
                                            raise_on_error=False)
            assert landed.success  # 3 of 4 tickers landed; JPM's 402 is a WARN check
            monkeypatch.setenv("FMP_API_KEY", f"wrong-{FMP_MARKER}")
            failed = job.execute_in_process(instance=instance, partition_key=DAY,
                                            raise_on_error=False)
            assert not failed.success  # 401 on the first request
            result = tick(cursor)  # the failure alert: delivery to a closed port fails
            assert not any(m in repr(result) for m in MARKERS)
            logs = "\n".join(repr(e) for run in (landed, failed)
                             for e in instance.all_logs(run.run_id))
            assert "FMP rejected the API key" in logs  # the failure is there, the key is not

    warehouse = settings.warehouse_path
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema gold; create table gold.fct_daily_bars as "
                    "select 'AAPL' as ticker, date '2025-11-24' as trade_date")
    config = ApiConfig.from_settings(settings, refresh_interval=0.0)
    key = KeyStore(config.key_store_path).create(["prices:read"]).key
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        # In the query string and the key header (a path is logged as sent: not a place for
        # secrets, and not the server's own).
        for path in (f"/v1/daily-bars?apikey={FMP_MARKER}", f"/v1/daily-bars?tickers={HOOK_MARKER}",
                     f"/v1/daily-bars?cursor={FMP_MARKER}"):
            assert client.get(path, headers={"X-API-Key": key}).status_code == 422
        assert client.get("/v1/freshness", headers={"X-API-Key": FMP_MARKER}).status_code == 401

    hits = scan(tmp_path)
    assert hits == {m: [] for m in MARKERS}, hits
    assert any(p.suffix == ".db" for p in home.rglob("*")), "Dagster's sqlite storage was scanned"
    # httpx is the test's own client logging the URLs it sends; everything else is the system.
    server_side = [r for r in everything_logged if not r.name.startswith("httpx")]
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in server_side)
    assert any(r.name.startswith("urllib3") for r in everything_logged)
    leaked = [f"{r.name}: {r.getMessage()[:300]}" for r in server_side
              if any(m in f"{r.getMessage()} {r.exc_text or ''}" for m in MARKERS)]
    assert not leaked and not [m for m in MARKERS if m in logged], leaked
    out, err = capfd.readouterr()
    assert not [m for m in MARKERS if m in out + err]
