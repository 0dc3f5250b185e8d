"""Publishing gold, without dbt: the copy, the rename, the leftovers, the lock,
and what the API lists. The crash tests with real dbt runs are in
``integration/test_gold_publish_crash.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from fastapi.testclient import TestClient

from finks_api.app import create_app
from finks_api.config import ApiConfig
from finks_api.keys import KeyStore
from finks_assets.defs.gold.dbt_assets import ATHENA_TARGETS, publish_then_report
from finks_assets.lib.dbt.project import DBT_PROJECT_DIR
from finks_assets.lib.resources.factory import DBT_TARGETS
from finks_assets.lib.warehouse_publish import (
    WarehouseBusy,
    building_path,
    gold_build,
    is_dbt_leftover,
    wal_of,
)
from finks_assets_tests.unit.test_api_hardening import GOLD_DDL, INSERT_BAR

ADD_ROW = "insert into gold.fct_daily_bars (ticker, trade_date, close) values"


def make_live(path: Path, extra: str = "") -> None:
    """gold.fct_daily_bars as the API expects it, one AAPL row, plus ``extra`` SQL."""
    with duckdb.connect(str(path)) as con:
        con.execute(GOLD_DDL)
        con.execute(INSERT_BAR, ["AAPL", *["2025-11-24"] * 3])
        if extra:
            con.execute(extra)


def tables(path: Path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute("select table_schema || '.' || table_name from information_schema.tables"
                           " order by 1").fetchall()
    return [name for (name,) in rows]


def bars(path: Path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("select ticker, trade_date::varchar from gold.fct_daily_bars"
                           " order by all").fetchall()


def test_a_published_build_replaces_the_live_file_in_one_rename(tmp_path: Path) -> None:
    live = tmp_path / "warehouse.duckdb"
    make_live(live)
    before = live.stat().st_ino
    with gold_build(live) as build:
        assert build.path == building_path(live) and build.path.exists()
        with duckdb.connect(str(build.path)) as con:
            con.execute(f"{ADD_ROW} ('MSFT', date '2025-11-25', 2.0)")
        assert bars(live) == [("AAPL", "2025-11-24")]  # the live file is untouched while building
        stats = build.publish()
    assert bars(live) == [("AAPL", "2025-11-24"), ("MSFT", "2025-11-25")]
    assert live.stat().st_ino != before  # a new file took the name: readers saw old or new
    assert not building_path(live).exists() and not wal_of(live).exists()
    assert stats.bytes == live.stat().st_size and stats.publish_seconds > 0


def test_a_build_that_fails_publishes_nothing_and_drops_its_copy(tmp_path: Path) -> None:
    live = tmp_path / "warehouse.duckdb"
    make_live(live)
    inode = live.stat().st_ino
    with pytest.raises(RuntimeError, match="dbt failed"), gold_build(live) as build:
        with duckdb.connect(str(build.path)) as con:
            con.execute("delete from gold.fct_daily_bars")
        raise RuntimeError("dbt failed")
    assert live.stat().st_ino == inode and bars(live) == [("AAPL", "2025-11-24")]
    assert not building_path(live).exists() and not wal_of(building_path(live)).exists()


def test_the_first_build_starts_from_an_empty_copy(tmp_path: Path) -> None:
    live = tmp_path / "data" / "warehouse.duckdb"  # not even the folder exists (s3 mode)
    with gold_build(live) as build:
        make_live(build.path)
        build.publish()
    assert bars(live) == [("AAPL", "2025-11-24")]


def test_publishing_drops_dbt_leftovers_and_folds_an_old_wal(tmp_path: Path) -> None:
    """A warehouse written in place before publishing existed: backup tables and a .wal."""
    live = tmp_path / "warehouse.duckdb"
    make_live(live, "create table gold.fct_portfolio_positions__dbt_backup as select 1 as x;"
                    "create view gold.fct_daily_bars__dbt_tmp as select 1 as x")
    writer = ("import duckdb, os, sys; con = duckdb.connect(sys.argv[1]);"
              "con.execute(\"set checkpoint_threshold = '1GB'\");"
              f"con.execute(\"{ADD_ROW} ('NVDA', date '2025-11-24', 3)\");"
              "os._exit(0)")  # commits, then dies before any checkpoint: the row is only in the WAL
    subprocess.run([sys.executable, "-c", writer, str(live)], check=True, timeout=60)
    assert wal_of(live).stat().st_size > 0

    with gold_build(live) as build:
        stats = build.publish()

    assert sorted(stats.dropped) == ["gold.fct_daily_bars__dbt_tmp",
                                     "gold.fct_portfolio_positions__dbt_backup"]
    assert tables(live) == ["gold.fct_daily_bars"]
    assert bars(live) == [("AAPL", "2025-11-24"), ("NVDA", "2025-11-24")]  # the WAL's row kept
    assert not wal_of(live).exists()


def test_a_copy_left_by_a_killed_build_is_replaced_by_the_next_build(tmp_path: Path) -> None:
    live = tmp_path / "warehouse.duckdb"
    make_live(live)
    stale = building_path(live)
    make_live(stale, f"{ADD_ROW} ('STALE', date '2025-01-01', 0)")
    wal_of(stale).write_bytes(b"not a wal of this copy")
    with gold_build(live) as build:
        assert bars(build.path) == [("AAPL", "2025-11-24")]  # a fresh copy of the live file
        assert not wal_of(build.path).exists()
        build.publish()
    assert bars(live) == [("AAPL", "2025-11-24")]


def test_one_build_at_a_time_even_outside_the_dagster_pool(tmp_path: Path) -> None:
    live = tmp_path / "warehouse.duckdb"
    make_live(live)
    with gold_build(live), pytest.raises(WarehouseBusy), gold_build(live, lock_timeout=0.6):
        pass
    with gold_build(live, lock_timeout=0):  # released on the way out
        pass


@pytest.mark.parametrize("name", ["fct_portfolio_positions__dbt_backup", "fct_daily_bars__dbt_tmp",
                                  "fct_daily_bars__dbt_tmp_20251124", "daily_portfolio_summary__ha",
                                  "daily_portfolio_summary__bkp",
                                  "fct_daily_bars__tmp_not_partitioned"])
def test_dbt_work_relations_are_leftovers(name: str) -> None:
    assert is_dbt_leftover(name)


def test_no_model_or_seed_of_the_project_looks_like_a_leftover() -> None:
    manifest = DBT_PROJECT_DIR / "target" / "manifest.json"
    if not manifest.exists():
        pytest.skip("dbt manifest missing: run `make manifest`")
    nodes = json.loads(manifest.read_text())["nodes"].values()
    names = {n["alias"] or n["name"] for n in nodes if n["resource_type"] in {"model", "seed"}}
    assert names and not [n for n in names if is_dbt_leftover(n)]


def test_freshness_never_lists_dbt_leftovers(tmp_path: Path) -> None:
    """a restarted API listed gold.fct_portfolio_positions__dbt_backup."""
    live = tmp_path / "warehouse.duckdb"
    make_live(live, "create table gold.fct_portfolio_positions__dbt_backup as select 1 as x;"
                    "create table gold.fct_daily_bars__dbt_tmp as select 1 as x")
    config = ApiConfig(warehouse_path=live, key_store_path=tmp_path / "api" / "keys.json",
                       snapshot_dir=tmp_path / "api" / "snapshots", refresh_interval=0.0)
    key = KeyStore(config.key_store_path).create(["prices:read"]).key
    with TestClient(create_app(config)) as client:
        response = client.get("/v1/freshness", headers={"X-API-Key": key})
    assert response.status_code == 200
    assert [t["table"] for t in response.json()["tables"]] == ["fct_daily_bars"]


def test_a_running_api_serves_a_publish_at_once(tmp_path: Path) -> None:
    """The rename gives the warehouse a new inode, which the snapshot stamp sees."""
    live = tmp_path / "warehouse.duckdb"
    make_live(live)
    config = ApiConfig(warehouse_path=live, key_store_path=tmp_path / "api" / "keys.json",
                       snapshot_dir=tmp_path / "api" / "snapshots", refresh_interval=0.0)
    key = KeyStore(config.key_store_path).create(["prices:read"]).key
    with TestClient(create_app(config)) as client:
        def tickers() -> list[str]:
            body = client.get("/v1/daily-bars", headers={"X-API-Key": key}).json()
            return [row["ticker"] for row in body["data"]]

        assert tickers() == ["AAPL"]
        with gold_build(live) as build:
            with duckdb.connect(str(build.path)) as con:
                con.execute("update gold.fct_daily_bars set ticker = 'AMZN'")
            build.publish()
        assert tickers() == ["AMZN"]


# --- the gold step's side: events are reported only after the publish ------------------------

CHECK = dg.AssetCheckResult(asset_key=dg.AssetKey(["gold", "fct_daily_bars"]),
                            check_name="not_null_fct_daily_bars_ticker", passed=False)


def dbt_events(live: Path, fail: bool) -> Iterator[object]:
    """What dbt's stream yields: a model, a test result, then (maybe) dbt's failure."""
    yield dg.Output(None, output_name="gold__fct_daily_bars")
    assert bars(live) == [("AAPL", "2025-11-24")]  # nothing published while dbt runs
    yield CHECK
    if fail:
        raise RuntimeError("dbt build failed")


def test_the_step_reports_materializations_only_after_publishing(tmp_path: Path) -> None:
    live = tmp_path / "warehouse.duckdb"
    make_live(live)
    context = dg.build_asset_context()
    with gold_build(live) as build:
        reported = []
        for event in publish_then_report(context, dbt_events(live, fail=False), build):
            assert build.published  # Dagster hears of a model only once readers can see it
            reported.append(event)
    assert [type(e) for e in reported] == [dg.Output, dg.AssetCheckResult]


def test_a_failed_build_reports_its_test_results_but_no_materialization(tmp_path: Path) -> None:
    live = tmp_path / "warehouse.duckdb"
    make_live(live)
    inode = live.stat().st_ino
    reported: list[object] = []
    with pytest.raises(RuntimeError, match="dbt build failed"), gold_build(live) as build:
        reported.extend(publish_then_report(dg.build_asset_context(),
                                            dbt_events(live, fail=True), build))
    assert reported == [CHECK] and live.stat().st_ino == inode


def test_athena_builds_stream_as_dbt_goes_and_publish_nothing(tmp_path: Path) -> None:
    live = tmp_path / "warehouse.duckdb"
    make_live(live)
    events = publish_then_report(dg.build_asset_context(), dbt_events(live, fail=False), None)
    assert isinstance(next(events), dg.Output)  # before dbt's next event: nothing held back
    assert ATHENA_TARGETS == {"athena"} and DBT_TARGETS["aws"] in ATHENA_TARGETS
    assert not {DBT_TARGETS["local"], DBT_TARGETS["s3"]} & ATHENA_TARGETS


def test_the_api_reads_gold_views_that_name_the_warehouse_catalog(tmp_path: Path) -> None:
    """dbt-duckdb writes views as ``... from warehouse.gold.x``: the snapshot must keep that name.

    Before, snapshots were ``warehouse-<id>.duckdb`` (catalog ``warehouse-<id>``), and one gold
    view made every ``/v1/freshness`` a 503 ("Catalog "warehouse" does not exist").
    """
    live = tmp_path / "warehouse.duckdb"
    make_live(live, "create view gold.fct_daily_bars_adjusted as"
                    " select * from warehouse.gold.fct_daily_bars")
    config = ApiConfig(warehouse_path=live, key_store_path=tmp_path / "api" / "keys.json",
                       snapshot_dir=tmp_path / "api" / "snapshots", refresh_interval=0.0)
    key = KeyStore(config.key_store_path).create(["prices:read"]).key
    with TestClient(create_app(config)) as client:
        response = client.get("/v1/freshness", headers={"X-API-Key": key})
        assert response.status_code == 200, response.text
        assert {t["table"]: t["rows"] for t in response.json()["tables"]} == {
            "fct_daily_bars": 1, "fct_daily_bars_adjusted": 1}
        [snapshot] = (tmp_path / "api" / "snapshots").glob("*.duckdb")
        assert snapshot.name.startswith("warehouse.")


def test_the_build_copy_keeps_the_warehouse_catalog_name(tmp_path: Path) -> None:
    """dbt-duckdb derives its database from the file name; views built in the copy must still
    resolve once the copy is renamed to the live name."""
    live = tmp_path / "warehouse.duckdb"
    with gold_build(live) as build:
        with duckdb.connect(str(build.path)) as con:
            assert con.execute("select current_database()").fetchone() == ("warehouse",)
            con.execute(GOLD_DDL)
            con.execute("create view gold.v as select * from warehouse.gold.fct_daily_bars")
        build.publish()
    with duckdb.connect(str(live), read_only=True) as con:
        assert con.execute("select count(*) from gold.v").fetchone() == (0,)


def test_a_build_copy_names_the_relations_it_lacks(tmp_path: Path) -> None:
    """How the gold step knows a fresh warehouse needs its seeds loaded."""
    live = tmp_path / "warehouse.duckdb"
    wanted = [("gold", "fct_daily_bars"), ("gold", "portfolio_holdings")]
    with gold_build(live) as build:  # no warehouse yet: everything is missing
        assert build.missing_relations(wanted) == set(wanted)
    make_live(live)
    with gold_build(live) as build:
        assert build.missing_relations(wanted) == {("gold", "portfolio_holdings")}
