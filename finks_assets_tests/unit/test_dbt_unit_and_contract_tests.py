"""dbt's own unit tests and model contracts really guard the gold logic: they pass on the
project as it is, and fail when the rollup, the VWAP, the returns or a mart's column types drift.

Each scenario edits a copy of ``finks_dbt`` (never the project itself) and runs dbt on it
against a warehouse the unmodified copy built first (unit tests read their inputs' column
types from the warehouse).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from finks_assets_tests.unit.test_dbt_project import (
    DBT_THREADS,
    PROJECT_DIR,
    dbt_main,
    release_duckdb,
)

UNIT_TESTS = {
    "daily_rollup_picks_open_and_close_by_time_and_sums_the_day",
    "vwap_weights_each_bar_close_by_its_volume",
    "returns_compare_each_close_with_the_tickers_earlier_sessions",
    "a_window_run_writes_from_its_start_with_lags_from_earlier_history",
    "daily_bars_keep_only_the_window_of_the_chosen_source",
    "daily_bars_come_from_fmp_eod_when_asked",
    "flagged_bars_count_the_days_flagged_bars_and_vendor_vwap_is_null",
}


class ProjectCopy:
    """A copy of the dbt project with its own warehouse, lake and target folders."""

    def __init__(self, root: Path):
        self.root = root
        self.project = root / "finks_dbt"
        shutil.copytree(PROJECT_DIR, self.project, ignore=shutil.ignore_patterns("target", "logs"))
        (root / "lake").mkdir()

    def edit(self, relative: str, old: str, new: str) -> None:
        path = self.project / relative
        text = path.read_text()
        assert old in text, f"{relative} no longer contains {old!r}: update this test"
        path.write_text(text.replace(old, new))

    def dbt(self, *args: str) -> dict[str, str]:
        """Runs dbt; node name -> status."""
        cli = [*args, "--project-dir", str(self.project), "--profiles-dir", str(self.project),
               "--target", "duckdb", "--target-path", str(self.root / "target"),
               "--log-path", str(self.root / "logs"), "--threads", DBT_THREADS,
               "--vars", f'{{"lake_root": "{self.root / "lake"}"}}']
        try:
            result = dbt_main.dbtRunner().invoke(cli)
        finally:
            release_duckdb()
        assert result.exception is None, repr(result.exception)
        return {r.node.name: str(r.status) for r in result.result}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ProjectCopy:
    monkeypatch.setenv("FINKS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FINKS_WAREHOUSE_PATH", raising=False)
    for name in ("START_DATE", "END_DATE", "LAKE_ROOT", "DAILY_BARS_FROM"):
        monkeypatch.delenv(f"FINKS_DBT_{name}", raising=False)
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return ProjectCopy(tmp_path)


def test_unit_tests_run_in_dbt_build_and_fail_when_the_logic_drifts(project: ProjectCopy) -> None:
    built = project.dbt("build", "--exclude", "tag:fmp_reference")
    assert {name: built.get(name) for name in UNIT_TESTS} == dict.fromkeys(UNIT_TESTS, "pass")

    rollup = "models/intermediate/prices/int_bars_1m__daily_rollup.sql"
    project.edit(rollup, "max_by(close, bar_ts) as close", "min_by(close, bar_ts) as close")
    project.edit(rollup, "sum(cast(close * volume", "sum(cast((high + low + close) / 3 * volume")
    project.edit(rollup, "flagged.trade_date = daily.trade_date",
                 "flagged.trade_date <= daily.trade_date")
    project.edit("models/marts/prices/fct_daily_features.sql", "lag(close, 5)", "lag(close, 4)")
    tested = project.dbt("test", "--select", "test_type:unit")

    failed = {name for name, status in tested.items() if status == "fail"}
    assert failed == {
        "daily_rollup_picks_open_and_close_by_time_and_sums_the_day",  # close of the first bar
        "vwap_weights_each_bar_close_by_its_volume",  # typical-price vwap
        "returns_compare_each_close_with_the_tickers_earlier_sessions",  # 4-session return_5d
        "flagged_bars_count_the_days_flagged_bars_and_vendor_vwap_is_null",  # earlier days' flags
    }
    assert {tested[name] for name in UNIT_TESTS - failed} == {"pass"}


def test_a_mart_that_drifts_from_its_contract_fails_to_build(project: ProjectCopy) -> None:
    project.edit("models/marts/prices/fct_daily_bars.sql", "    bar_count,\n",
                 "    cast(bar_count as integer) as bar_count,\n")
    status = project.dbt("run", "--select", "+fct_daily_bars")
    assert status["int_bars_1m__daily_rollup"] == "success"
    assert status["fct_daily_bars"] == "error"  # declared bigint, now integer
