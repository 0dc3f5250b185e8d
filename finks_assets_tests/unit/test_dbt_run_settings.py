"""How Dagster hands dbt a run's settings: environment variables read at execution time.

Command-line ``--vars`` that change every run force dbt to re-parse the whole project (~3 s a
run). The Finks dbt assets export ``FINKS_DBT_<NAME>`` instead (``finks_run_setting`` in
``finks_dbt/macros/window.sql``) and keep each build's parse for the next one. These tests pin
where the window reaches: the incremental marts and the data tests of the staging and
intermediate views (the run's days only), never the views themselves nor the dbt unit tests,
and that a new window re-uses the saved parse.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from finks_assets.lib.dbt.artifacts import PARTIAL_PARSE_FILE, keep_partial_parse
from finks_assets_tests.unit.test_dbt_project import (
    DAY1,
    DAY2,
    DAY3,
    DBT_THREADS,
    PROJECT_DIR,
    Warehouse,
    dbt_main,
    failures,
    release_duckdb,
    silver_bars,
    warehouse,  # noqa: F401 (fixture)
    write_lake,
    write_partition,
)


@dataclass
class Build:
    success: bool
    events: list[str]
    status: dict[str, str]  # node name -> dbt status (models, data tests and unit tests)
    failures: list[str]


def build_from_environment(wh: Warehouse, monkeypatch: pytest.MonkeyPatch, first: str,
                           last: str) -> Build:
    """``dbt build`` with no --vars, the window and lake root in FINKS_DBT_*, as Dagster runs it."""
    monkeypatch.setenv("FINKS_DBT_LAKE_ROOT", str(wh.lake))
    monkeypatch.setenv("FINKS_DBT_START_DATE", first)
    monkeypatch.setenv("FINKS_DBT_END_DATE", last)
    events: list[str] = []
    runner = dbt_main.dbtRunner(callbacks=[lambda event: events.append(event.info.name)])
    try:
        result = runner.invoke([
            "build", "--select", "+fct_daily_features",
            "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
            "--target", "duckdb", "--threads", DBT_THREADS,
            "--target-path", str(wh.root / "dbt_target"), "--log-path", str(wh.root / "dbt_logs"),
        ])
    finally:
        release_duckdb()
    status = {r.node.name: str(r.status) for r in (result.result or [])}
    return Build(bool(result.success), events, status, failures(result))


def bar_dates(wh: Warehouse, relation: str = "gold.fct_daily_bars") -> list[str]:
    rows = wh.query(f"select distinct trade_date from {relation} order by 1")  # noqa: S608 (constants)
    return [row[0].isoformat() for row in rows]


def test_window_from_the_environment_reaches_the_marts_only_and_reuses_the_parse(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch  # noqa: F811 (fixture)
) -> None:
    write_lake(warehouse.lake)
    first = build_from_environment(warehouse, monkeypatch, DAY1, DAY1)
    assert first.success, first.failures
    assert bar_dates(warehouse) == [DAY1]  # only the window was built: the env var was read
    # The views are not frozen to the last run's window: they show all of silver.
    all_days = [DAY1, DAY2, DAY3]
    assert bar_dates(warehouse, "staging.stg_silver__bars_1m") == all_days
    assert bar_dates(warehouse, "intermediate.int_bars_1m__daily_rollup") == all_days

    second = build_from_environment(warehouse, monkeypatch, DAY2, DAY2)
    assert second.success, second.failures
    assert bar_dates(warehouse) == [DAY1, DAY2]
    assert "UnableToPartialParse" not in second.events  # a new window is not a reason to re-parse
    assert "PartialParsingEnabled" in second.events


def test_unit_tests_ignore_the_runs_window(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch  # noqa: F811 (fixture)
) -> None:
    """Their fixtures are dated outside any run's window; the window must not filter them."""
    write_lake(warehouse.lake)
    build = build_from_environment(warehouse, monkeypatch, DAY3, DAY3)
    assert build.success, build.failures
    unit_tests = {name: s for name, s in build.status.items()
                  if name.startswith(("daily_rollup_", "vwap_", "returns_", "daily_bars_"))}
    assert len(unit_tests) >= 5 and set(unit_tests.values()) == {"pass"}, build.status


def test_view_tests_check_only_the_runs_days(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch  # noqa: F811 (fixture)
) -> None:
    """A bad bar outside the window does not fail a run; inside it, it stops gold."""
    write_lake(warehouse.lake)
    day1 = silver_bars()[DAY1]
    bad = next(bar for bar in day1 if bar["ticker"] == "MSFT")
    bad["high"] = bad["close"] - 0.5  # high below close
    write_partition(warehouse.lake, "bars_1m", DAY1, day1)

    other_day = build_from_environment(warehouse, monkeypatch, DAY2, DAY3)
    assert other_day.success, other_day.failures

    bad_day = build_from_environment(warehouse, monkeypatch, DAY1, DAY1)
    assert not bad_day.success
    failed = {name for name, s in bad_day.status.items() if s in ("fail", "error")}
    assert failed == {"ohlc_consistency_stg_silver__bars_1m_"}
    assert bad_day.status["fct_daily_bars"] == "skipped"
    assert bar_dates(warehouse) == [DAY2, DAY3]


def test_a_bad_window_from_the_environment_is_still_rejected(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch  # noqa: F811 (fixture)
) -> None:
    write_lake(warehouse.lake)
    build = build_from_environment(warehouse, monkeypatch, "2025-11-25; drop table x", DAY2)
    assert not build.success
    assert any("not a date in YYYY-MM-DD form" in f for f in build.failures), build.failures


def test_keep_partial_parse_replaces_the_project_copy(tmp_path: Path) -> None:
    invocation, project = tmp_path / "invocation", tmp_path / "target"
    invocation.mkdir()
    assert keep_partial_parse(invocation, project) is False  # nothing parsed: nothing kept
    (invocation / PARTIAL_PARSE_FILE).write_bytes(b"new parse")
    project.mkdir()
    (project / PARTIAL_PARSE_FILE).write_bytes(b"old parse")
    assert keep_partial_parse(invocation, project) is True
    assert (project / PARTIAL_PARSE_FILE).read_bytes() == b"new parse"
    assert sorted(p.name for p in project.iterdir()) == [PARTIAL_PARSE_FILE]  # no temp left
