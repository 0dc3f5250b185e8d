"""The dbt project's ``athena`` target (FINKS_ENV=aws) parses offline with the right strategies.

Only parsing runs here: compiling or running models needs a live Athena (is_incremental()
asks the warehouse whether the table exists), which nothing offline emulates.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from finks_assets.assets.gold import DBT_PROJECT_DIR

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("dbt.adapters.athena") is None,
    reason="dbt-athena-community not installed (pip install -e '.[dev]' or '.[athena]')",
)
PARTITIONED_MARTS = ("fct_daily_bars", "fct_daily_features")


@pytest.fixture(scope="module")
def athena_manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    target = tmp_path_factory.mktemp("athena_target")
    dbt = Path(sys.executable).parent / "dbt"
    subprocess.run(
        [str(dbt), "parse", "--quiet", "--profiles-dir", ".", "--target", "athena",
         "--target-path", str(target), "--log-path", str(target)],
        cwd=DBT_PROJECT_DIR, check=True, timeout=300,
        env={"PATH": str(dbt.parent), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
             "FINKS_GLUE_DATABASE": "finks_prod"},
    )
    return json.loads((target / "manifest.json").read_text())


def test_partitioned_marts_overwrite_by_trade_date_on_athena(athena_manifest: dict) -> None:
    assert athena_manifest["metadata"]["adapter_type"] == "athena"
    for name in PARTITIONED_MARTS:
        config = athena_manifest["nodes"][f"model.finks.{name}"]["config"]
        assert config["materialized"] == "incremental"
        assert config["incremental_strategy"] == "insert_overwrite"
        assert config["partitioned_by"] == ["trade_date"]


def test_silver_sources_are_the_glue_tables(athena_manifest: dict) -> None:
    source = athena_manifest["sources"]["source.finks.silver.bars_1m"]
    assert (source["schema"], source["identifier"]) == ("finks_prod", "silver_bars_1m")


def test_duckdb_target_keeps_its_window_strategies() -> None:
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    if manifest["metadata"]["adapter_type"] != "duckdb":
        pytest.skip("target/manifest.json was not parsed for the duckdb target")
    strategies = {n: manifest["nodes"][f"model.finks.{n}"]["config"]["incremental_strategy"]
                  for n in PARTITIONED_MARTS}
    assert strategies == {"fct_daily_bars": "replace_window",
                          "fct_daily_features": "replace_from_window_start"}
