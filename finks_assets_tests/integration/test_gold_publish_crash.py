"""a crash during dbt never leaves mixed gold, and the next run recovers.

A first real run publishes gold for DAY1. Then runs of DAY2..DAY3 are killed (``kill -9`` of
their process group: the Dagster process and its dbt subprocess) at three moments of the dbt
step: after dbt's first model, after ``fct_daily_bars`` (the mart the issue found at the new
window while ``daily_portfolio_summary`` was at the old one), and just before the rename that
publishes. Each moment is reached deterministically (``gold_run_child.py`` stops there and
signals). After every kill the warehouse must be exactly the DAY1 gold, with no dbt backup/tmp
relation, and a freshly started API must serve that state; a last, unkilled run must then publish
DAY1..DAY3 in every mart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from finks_api.app import create_app
from finks_api.config import ApiConfig
from finks_api.keys import KeyStore
from finks_assets.lib.dbt.project import DBT_PROJECT_DIR
from finks_assets.lib.warehouse_publish import building_path, is_dbt_leftover, wal_of
from finks_assets_tests.unit.test_dbt_project import DAY1, DAY2, DAY3, write_lake

pytest.importorskip("dbt.adapters.duckdb")
pytestmark = pytest.mark.skipif(
    not (DBT_PROJECT_DIR / "target" / "manifest.json").exists(),
    reason="dbt manifest missing: run `make manifest` (make test does it first)",
)

REPO = Path(__file__).resolve().parents[2]
MARTS = ("fct_daily_bars", "fct_daily_features", "fct_portfolio_positions",
         "daily_portfolio_summary")
RUN_TIMEOUT = 600  # seconds; a dbt build takes ~1 min on the shared 2-core machine


def start_run(data_dir: Path, start: str, end: str, stop: str, marker: Path,
              log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINKS_DBT_")}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "finks_assets_tests.integration.gold_run_child",
             str(data_dir), start, end, stop, str(marker)],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )


def kill_group(process: subprocess.Popen) -> None:
    """``kill -9`` the run's process group and wait until no member (dbt included) is left."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError("a process of the killed run survived")


def run_to_end(data_dir: Path, start: str, end: str, log: Path) -> None:
    process = start_run(data_dir, start, end, "none", data_dir / "unused", log)
    try:
        assert process.wait(timeout=RUN_TIMEOUT) == 0, log.read_text()[-4000:]
    finally:
        if process.poll() is None:
            kill_group(process)


def run_and_kill_at(data_dir: Path, stop: str, log: Path) -> None:
    marker = data_dir.parent / f"stopped-{stop}"
    process = start_run(data_dir, DAY2, DAY3, stop, marker, log)
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while not marker.exists():
            assert process.poll() is None, f"run ended before {stop}: {log.read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"run never reached {stop}"
            time.sleep(0.1)
    finally:
        kill_group(process)


def gold_state(warehouse: Path) -> dict[str, object]:
    """Every relation's name, and every mart's rows (the whole published state)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        relations = [r for (r,) in con.execute(
            "select table_schema || '.' || table_name from information_schema.tables order by 1"
        ).fetchall()]
        rows = {m: con.execute(f"select * from gold.{m} order by all").fetchall()  # noqa: S608 - MARTS
                for m in MARTS}
    return {"relations": relations, **rows}


def mart_days(warehouse: Path) -> dict[str, list[str]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {m: [d for (d,) in con.execute(
            f"select distinct trade_date::varchar from gold.{m} order by 1").fetchall()]  # noqa: S608
            for m in MARTS}


def copy_days(copy: Path, scratch: Path) -> dict[str, list[str]]:
    """The marts' days in a killed build's private copy (its WAL replayed in a scratch copy)."""
    scratch.mkdir()
    target = scratch / "copy.duckdb"
    target.write_bytes(copy.read_bytes())
    if wal_of(copy).exists():
        wal_of(target).write_bytes(wal_of(copy).read_bytes())
    with duckdb.connect(str(target)) as con:
        present = {t for (t,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'gold'"
        ).fetchall()}
        return {m: [d for (d,) in con.execute(
            f"select distinct trade_date::varchar from gold.{m} order by 1").fetchall()]  # noqa: S608
            for m in MARTS if m in present}


def api_freshness(tmp_path: Path, warehouse: Path) -> list[dict[str, object]]:
    """What a freshly started API lists (a restarted replica after the crash)."""
    api_dir = tmp_path / f"api-{time.monotonic_ns()}"
    config = ApiConfig(warehouse_path=warehouse, key_store_path=api_dir / "keys.json",
                       snapshot_dir=api_dir / "snapshots", refresh_interval=0.0)
    key = KeyStore(config.key_store_path).create(["prices:read", "portfolio:read"]).key
    with TestClient(create_app(config)) as client:
        response = client.get("/v1/freshness", headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    return response.json()["tables"]


def test_a_killed_gold_build_leaves_the_last_published_gold(tmp_path: Path) -> None:
    data_dir = tmp_path / "finks"
    write_lake(data_dir / "lake")
    warehouse = data_dir / "warehouse.duckdb"
    log = tmp_path / "runs.log"

    run_to_end(data_dir, DAY1, DAY1, log)
    published = gold_state(warehouse)
    assert mart_days(warehouse) == dict.fromkeys(MARTS, [DAY1])

    for stop in ("first_model", "mart", "before_publish"):
        run_and_kill_at(data_dir, stop, log)
        assert building_path(warehouse).exists(), stop  # the kill hit a build in progress
        built = copy_days(building_path(warehouse), tmp_path / f"copy-{stop}")
        if stop == "mart":  # what readers of the old in-place build saw: mixed windows
            assert built["fct_daily_bars"] == [DAY1, DAY2, DAY3], built
        if stop == "before_publish":
            assert built == dict.fromkeys(MARTS, [DAY1, DAY2, DAY3]), built

        state = gold_state(warehouse)
        assert state == published, f"gold changed after a kill at {stop}"
        assert not [r for r in state["relations"] if is_dbt_leftover(r.split(".")[1])]
        assert not wal_of(warehouse).exists()
        tables = api_freshness(tmp_path, warehouse)
        assert sorted(t["table"] for t in tables if t["table"] in MARTS) == sorted(MARTS)
        assert not [t for t in tables if is_dbt_leftover(t["table"])], tables
        assert {t["latest_trade_date"] for t in tables if t["table"] in MARTS} == {DAY1}, stop

    run_to_end(data_dir, DAY2, DAY3, log)  # the next run recovers
    assert mart_days(warehouse) == dict.fromkeys(MARTS, [DAY1, DAY2, DAY3])
    state = gold_state(warehouse)
    assert not [r for r in state["relations"] if is_dbt_leftover(r.split(".")[1])]
    assert not building_path(warehouse).exists()
    tables = api_freshness(tmp_path, warehouse)
    assert {t["latest_trade_date"] for t in tables if t["table"] in MARTS} == {DAY3}
