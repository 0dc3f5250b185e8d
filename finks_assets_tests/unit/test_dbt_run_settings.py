"""How Dagster hands dbt a run's settings: environment variables read at execution time.

Command-line ``--vars`` that change every run force dbt to re-parse the whole project (~3 s a
run). The Finks dbt assets export ``FINKS_DBT_<NAME>`` instead (``finks_run_setting`` in
``finks_dbt/macros/window.sql``), keep each build's parse for the next one, and skip two
dagster-dbt probes Finks does not need. These tests pin all three: the window really comes from
the environment, the second build re-uses the parse, and the skipped probes are still safe.
"""

from __future__ import annotations

import subprocess
import sys
from functools import cached_property
from pathlib import Path

import pytest
from dagster_dbt import DbtCliResource

from finks_assets.lib.dbt.artifacts import PARTIAL_PARSE_FILE, keep_partial_parse
from finks_assets.lib.dbt.cli_resource import FinksDbtCliResource
from finks_assets_tests.unit.test_dbt_project import (
    DAY1,
    DAY2,
    PROJECT_DIR,
    Warehouse,
    dbt_main,
    failures,
    release_duckdb,
    warehouse,  # noqa: F401 (fixture)
    write_lake,
)


def build_from_environment(wh: Warehouse, monkeypatch: pytest.MonkeyPatch, first: str,
                           last: str) -> list[str]:
    """``dbt build`` with no --vars, the window and lake root in FINKS_DBT_*; the event names."""
    monkeypatch.setenv("FINKS_DBT_LAKE_ROOT", str(wh.lake))
    monkeypatch.setenv("FINKS_DBT_START_DATE", first)
    monkeypatch.setenv("FINKS_DBT_END_DATE", last)
    events: list[str] = []
    runner = dbt_main.dbtRunner(callbacks=[lambda event: events.append(event.info.name)])
    try:
        result = runner.invoke([
            "build", "--select", "+fct_daily_bars",
            "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
            "--target", "duckdb",
            "--target-path", str(wh.root / "dbt_target"), "--log-path", str(wh.root / "dbt_logs"),
        ])
    finally:
        release_duckdb()
    assert result.success, f"dbt build failed: {failures(result)}"
    return events


def bar_dates(wh: Warehouse) -> list[str]:
    rows = wh.query("select distinct trade_date from gold.fct_daily_bars order by 1")
    return [row[0].isoformat() for row in rows]


def test_window_from_the_environment_and_the_parse_is_reused(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch  # noqa: F811 (fixture)
) -> None:
    write_lake(warehouse.lake)
    build_from_environment(warehouse, monkeypatch, DAY1, DAY1)
    assert bar_dates(warehouse) == [DAY1]  # only the window was built: the env var was read

    events = build_from_environment(warehouse, monkeypatch, DAY2, DAY2)
    assert bar_dates(warehouse) == [DAY1, DAY2]
    assert "UnableToPartialParse" not in events  # a new window is not a reason to re-parse
    assert "PartialParsingEnabled" in events


def test_a_bad_window_from_the_environment_is_still_rejected(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch  # noqa: F811 (fixture)
) -> None:
    write_lake(warehouse.lake)
    with pytest.raises(AssertionError, match="not a date in YYYY-MM-DD form"):
        build_from_environment(warehouse, monkeypatch, "2025-11-25; drop table x", DAY2)


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


def test_the_skipped_dagster_dbt_probes_still_exist_and_agree() -> None:
    """If dagster-dbt renames its hooks, the overrides would silently stop applying."""
    assert isinstance(DbtCliResource.__dict__["_cli_version"], cached_property)
    assert callable(DbtCliResource.__dict__["_initialize_dbt_core_adapter"])

    executable = Path(sys.executable).parent / "dbt"
    resource = FinksDbtCliResource(project_dir=str(PROJECT_DIR), dbt_executable=str(executable))
    reported = subprocess.run([str(executable), "--version"], capture_output=True, text=True,
                              check=True).stdout
    assert str(resource._cli_version) in reported  # what `dbt --version` would have said
    assert resource._initialize_dbt_core_adapter(["build"]) is None


def test_finks_dbt_assets_do_not_need_the_adapter_handle() -> None:
    """The adapter handle only serves these two dagster-dbt calls; Finks must not use them."""
    assets = Path(__file__).resolve().parents[2] / "finks_assets"
    for module in (m for m in assets.rglob("*.py") if m.name != "dbt_cli.py"):  # it names them
        text = module.read_text()
        assert "fetch_row_counts" not in text and "fetch_column_metadata" not in text, module
