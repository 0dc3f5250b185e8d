"""The dbt project's ``athena`` target (FINKS_ENV=aws), checked offline.

``dbt parse`` and ``dbt compile --no-populate-cache`` run without an Athena connection (no
relation exists, so incremental models compile their first-build SELECT). The compiled SQL is
parsed with sqlglot's Athena dialect and checked for the DuckDB-only constructs the models
dispatch away. Nothing here *runs* SQL on Athena/Trino: that needs a live Athena.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlglot

from finks_assets.lib.dbt.project import DBT_PROJECT_DIR

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("dbt.adapters.athena") is None,
    reason="dbt-athena-community not installed (make install: it is a runtime dependency)",
)
PARTITIONED_MARTS = ("fct_daily_bars", "fct_daily_features")
GOLD_DATABASE = "finks_prod_gold_db"  # what LakeResource.dbt_environment() exports in aws mode


DUCKDB_ONLY = ("string_agg", "to_json(", "list(", "with time zone", "read_parquet")


def dbt_athena(command: str, target: Path, *args: str) -> None:
    dbt = Path(sys.executable).parent / "dbt"
    subprocess.run(
        [str(dbt), command, "--quiet", "--profiles-dir", ".", "--target", "athena",
         "--target-path", str(target), "--log-path", str(target), *args],
        cwd=DBT_PROJECT_DIR, check=True, timeout=300, stdout=subprocess.DEVNULL,
        env={"PATH": str(dbt.parent), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
             "FINKS_GLUE_DATABASE": "finks_prod", "FINKS_GOLD_GLUE_DATABASE": GOLD_DATABASE},
    )


@pytest.fixture(scope="module")
def athena_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("athena_target")
    dbt_athena("compile", target, "--no-populate-cache", "--select", "resource_type:model",
               "--vars", '{"start_date": "2025-11-24", "end_date": "2025-11-25"}')
    return target


@pytest.fixture(scope="module")
def athena_manifest(athena_target: Path) -> dict:
    return json.loads((athena_target / "manifest.json").read_text())


def compiled_models(target: Path) -> dict[str, str]:
    root = target / "compiled" / "finks" / "models"
    return {p.stem: p.read_text() for p in root.rglob("*.sql") if ".yml" not in str(p.parent)}


def test_every_model_compiles_to_athena_sql_without_duckdb_only_constructs(athena_target: Path) -> None:
    models = compiled_models(athena_target)
    assert {"stg_silver__bars_1m", "fct_daily_bars", "daily_portfolio_summary"} <= set(models)
    for name, sql in models.items():
        sqlglot.parse_one(sql, read="athena")  # raises on a syntax Athena's dialect rejects
        found = [c for c in DUCKDB_ONLY if c in sql.lower()]
        assert not found, f"{name} compiles with DuckDB-only SQL {found}"


def test_partition_column_is_last_in_partitioned_marts(athena_target: Path) -> None:
    models = compiled_models(athena_target)
    for name in PARTITIONED_MARTS:
        select = sqlglot.parse_one(models[name], read="athena")
        assert select.selects[-1].alias_or_name == "trade_date", name


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


def test_models_are_built_only_in_the_stacks_two_glue_databases(athena_manifest: dict) -> None:
    """Gold in the gold database, staging/intermediate views beside silver: what IAM grants."""
    schemas = {node["name"]: node["schema"] for node in athena_manifest["nodes"].values()
               if node["resource_type"] in ("model", "seed")}
    for name, schema in schemas.items():
        expected = "finks_prod" if name.startswith(("stg_", "int_")) else GOLD_DATABASE
        assert schema == expected, f"{name} is built in {schema!r}, not {expected!r}"
    assert {"fct_daily_bars", "stg_silver__bars_1m", "int_bars_1m__daily_rollup"} <= set(schemas)


def test_compiled_sql_reads_gold_from_the_configured_database(athena_target: Path) -> None:
    models = compiled_models(athena_target)
    # daily_portfolio_summary selects from gold marts; none is read from a fixed `gold` database.
    assert f'"{GOLD_DATABASE}"."fct_portfolio_positions"' in models["daily_portfolio_summary"]
    assert '"finks_prod"."int_bars_1m__daily_rollup"' in models["fct_daily_bars"]
    for name, sql in models.items():
        assert '"gold".' not in sql and '"staging".' not in sql, name


def test_the_window_filters_the_marts_not_the_views(athena_target: Path) -> None:
    """Compiled with a window: only the incremental marts carry it; views stay whole."""
    models = compiled_models(athena_target)
    window = "trade_date >= date '2025-11-24'"
    assert window in models["fct_daily_bars"] and window in models["fct_daily_features"]
    for name in ("stg_silver__bars_1m", "stg_fmp__bars_1d", "int_bars_1m__daily_rollup"):
        assert "2025-11-2" not in models[name], name


def test_api_marts_keep_their_contracts_on_athena(athena_manifest: dict) -> None:
    for name in ("fct_daily_bars", "fct_daily_features", "daily_portfolio_summary", "dim_tickers"):
        node = athena_manifest["nodes"][f"model.finks.{name}"]
        assert node["config"]["contract"]["enforced"], name
        assert all(c.get("data_type") for c in node["columns"].values()), name


def test_duckdb_target_keeps_its_window_strategies() -> None:
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    if manifest["metadata"]["adapter_type"] != "duckdb":
        pytest.skip("target/manifest.json was not parsed for the duckdb target")
    strategies = {n: manifest["nodes"][f"model.finks.{n}"]["config"]["incremental_strategy"]
                  for n in PARTITIONED_MARTS}
    assert strategies == {"fct_daily_bars": "replace_window",
                          "fct_daily_features": "replace_from_window_start"}
