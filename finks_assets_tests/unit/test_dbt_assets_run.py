"""The gold dbt asset run by Dagster on a tiny lake: the run's partition range becomes the dbt
window (environment settings), the data tests come back as asset checks, and the unit tests stay
out of scheduled runs (they run in the dbt builds of the other dbt tests).
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from finks_assets.defs.gold.dbt_assets import gold_dbt_assets
from finks_assets.lib.dbt.project import DBT_PROJECT_DIR
from finks_assets.lib.resources.factory import build_resources
from finks_assets.lib.settings import FinksSettings
from finks_assets_tests.unit.test_dbt_project import DAY2, DAY3, write_lake

pytest.importorskip("dbt.adapters.duckdb")


def test_a_partition_range_is_one_windowed_dbt_build(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("START_DATE", "END_DATE", "LAKE_ROOT", "DAILY_BARS_FROM"):
        monkeypatch.delenv(f"FINKS_DBT_{name}", raising=False)
    settings = FinksSettings.from_env({"FINKS_DATA_DIR": str(tmp_path)})
    write_lake(settings.lake_root)
    instance = dg.DagsterInstance.ephemeral()

    result = dg.materialize(
        [gold_dbt_assets()], resources=build_resources(settings), instance=instance,
        tags={"dagster/asset_partition_range_start": DAY2,
              "dagster/asset_partition_range_end": DAY3},
    )

    assert result.success
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        days = con.execute("select distinct trade_date::varchar from gold.fct_daily_bars"
                           " order by 1").fetchall()
    assert [d for (d,) in days] == [DAY2, DAY3]  # the range reached dbt as its window

    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    assert dg.AssetKey(["gold", "fct_daily_bars"]) in {c.asset_key for c in checks}

    # dagster-dbt's per-run target folder: <op>-<run id[:7]>-<random>.
    (run_results,) = (DBT_PROJECT_DIR / "target").glob(f"finks_dbt-{result.run_id[:7]}-*/run_results.json")
    kinds = {r["unique_id"].split(".")[0] for r in json.loads(run_results.read_text())["results"]}
    assert {"model", "test"} <= kinds and "unit_test" not in kinds
