"""The API must never block Dagster/dbt from writing the warehouse, and keep serving meanwhile.

DuckDB lets one process write a database file, and any process that has the file open (even
read-only) makes a writer's connect fail. The API serves from a private snapshot copy instead
(``finks_api.snapshot``); these tests write the warehouse -- from another process holding the
write lock for a while, and with a real pipeline run (dbt) -- while the API is answering.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from finks_api.app import create_app
from finks_api.config import ApiConfig
from finks_api.keys import KeyStore
from finks_assets.cli.main import run_range
from finks_assets.lib.dbt.project import DBT_PROJECT_DIR
from finks_assets.lib.settings import FinksSettings
from finks_assets_tests.api_support import gold
from finks_assets_tests.conftest import SMALL_UNIVERSE

pytestmark = pytest.mark.skipif(
    not (DBT_PROJECT_DIR / "target" / "manifest.json").exists(),
    reason="dbt manifest missing: run `make manifest` (make test does it first)",
)

HOLD_LOCK = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("create table gold.api_probe as select 42 as answer")
print("locked", flush=True)
sys.stdin.readline()  # hold the write lock until the test says so
con.close()
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FinksSettings, TestClient, dict]]:
    settings = FinksSettings.from_env({
        "FINKS_DATA_DIR": str(tmp_path_factory.mktemp("api_writes") / "finks"),
        "FINKS_UNIVERSE": ",".join(SMALL_UNIVERSE),
    })
    assert run_range(settings, "2025-11-24", "2025-11-24").success
    config = ApiConfig.from_settings(settings, refresh_interval=0.0)
    key = KeyStore(config.key_store_path).create(["prices:read", "portfolio:read"]).key
    with TestClient(create_app(config)) as client:
        yield settings, client, {"X-API-Key": key}


def table_names(client: TestClient, headers: dict) -> set[str]:
    response = client.get("/v1/freshness", headers=headers)
    assert response.status_code == 200
    return {t["table"] for t in response.json()["tables"]}


def test_a_writer_can_lock_the_warehouse_while_the_api_serves(served) -> None:
    settings, client, headers = served
    assert client.get("/v1/daily-bars", headers=headers).status_code == 200  # snapshot is open
    writer = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(settings.warehouse_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "locked", writer.stderr.read()
        # the writer holds DuckDB's exclusive lock: the API keeps answering from its snapshot
        for _ in range(5):
            assert client.get("/v1/daily-bars", headers=headers).status_code == 200
            assert client.get("/readyz").status_code == 200
            assert "api_probe" not in table_names(client, headers)
    finally:
        writer.communicate("done\n", timeout=30)
    assert writer.returncode == 0
    assert "api_probe" in table_names(client, headers)  # the next request sees the new snapshot


def test_a_pipeline_run_writes_gold_while_clients_keep_reading(served) -> None:
    settings, client, headers = served
    statuses: Counter[int] = Counter()
    done = threading.Event()

    def read_continuously() -> None:
        while not done.is_set():
            for path in ("/v1/daily-bars", "/v1/portfolio-summary", "/v1/freshness"):
                statuses[client.get(path, headers=headers).status_code] += 1
            done.wait(0.05)  # a steady trickle of reads; leave the cores to the pipeline run

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        result = run_range(settings, "2025-11-25", "2025-11-25")  # dbt writes the warehouse
    finally:
        done.set()
        reader.join(timeout=60)
    assert result.success
    assert statuses[200] > 0 and set(statuses) == {200}, statuses

    body = client.get("/v1/daily-bars", headers=headers, params={"start": "2025-11-25"}).json()
    assert {r["trade_date"] for r in body["data"]} == {"2025-11-25"}
    assert len(body["data"]) == len(SMALL_UNIVERSE)
    served_rows = client.get("/v1/portfolio-summary", headers=headers).json()["data"]
    expected = gold(settings, "select portfolio_id, trade_date::varchar d, market_value "
                    "from gold.daily_portfolio_summary order by 1, 2")
    assert [(r["portfolio_id"], r["trade_date"], r["market_value"]) for r in served_rows] == list(
        expected.itertuples(index=False, name=None)
    )
    assert len(served_rows) == 4  # 2 portfolios x 2 sessions
