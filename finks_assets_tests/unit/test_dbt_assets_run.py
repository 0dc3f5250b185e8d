"""The gold dbt asset run by Dagster on a tiny lake: the run's partition range becomes the dbt
window (environment settings), the data tests come back as asset checks, and the unit tests stay
out of scheduled runs (they run in the dbt builds of the other dbt tests).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import duckdb
import pytest

from finks_assets.defs.gold.dbt_assets import (
    gold_dbt_assets,
    seed_children,
    seed_if_missing,
    seeds,
)
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


def test_athena_builds_load_the_seeds_once_per_instance() -> None:
    """No warehouse file to look into on Athena: a gold build seeds what this Dagster instance
    never materialized. dbt is a recording stand-in here (no Athena on this machine); the DuckDB
    path runs the real ``dbt seed`` in the test above and in the end-to-end tests."""
    seed = dg.AssetKey(["gold", "portfolio_holdings"])
    calls: list[list[str]] = []

    class RecordingDbt:
        def cli(self, args: list[str], **_: object) -> SimpleNamespace:
            calls.append(list(args))
            return SimpleNamespace(wait=lambda: None)

    instance = dg.DagsterInstance.ephemeral()
    context = SimpleNamespace(selected_asset_keys=seed_children(), instance=instance,
                              log=logging.getLogger(__name__))
    assert seed in {s.key for s in seeds()}
    assert seed_if_missing(context, RecordingDbt(), None) == [seed]
    instance.report_runless_asset_event(dg.AssetMaterialization(seed))
    assert seed_if_missing(context, RecordingDbt(), None) == []
    assert calls == [["seed", "--select", "portfolio_holdings"]]
    # a build that reads no seed never looks
    bars_only = SimpleNamespace(selected_asset_keys={dg.AssetKey(["gold", "fct_daily_bars"])},
                                instance=dg.DagsterInstance.ephemeral(), log=context.log)
    assert seed_if_missing(bars_only, RecordingDbt(), None) == []
