"""The dbt project's shape, read from the parsed manifest (``make manifest``), and how Dagster
loads it: folders decide config, tags, layers and assets; marts the API serves have contracts;
every model is documented and its key tested; the views' data tests check the run's window.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest

from finks_api import datasets
from finks_assets.lib.dbt.project import DBT_PROJECT_DIR
from finks_assets.lib.dbt.translator import FinksDbtTranslator, layer

MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
REFERENCE_FOLDERS = (("staging", "fmp", "reference"), ("marts", "reference"))
API_DATASETS = (datasets.DAILY_BARS, datasets.DAILY_FEATURES, datasets.PORTFOLIO_SUMMARY,
                datasets.TICKERS)
KEY_TESTS = {"unique", "unique_combination_of_columns"}


@cache
def manifest() -> dict[str, Any]:
    if not MANIFEST.exists():
        pytest.skip("no dbt manifest: run `make manifest`")
    return json.loads(MANIFEST.read_text())


def models() -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in manifest()["nodes"].values() if n["resource_type"] == "model"}


def folder(node: dict[str, Any]) -> tuple[str, ...]:
    return tuple(node["fqn"][1:-1])


def data_tests_of(model: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in manifest()["nodes"].values() if n["resource_type"] == "test"
            and n.get("attached_node") == model["unique_id"]]


def test_the_fmp_reference_tag_comes_from_the_folder_only() -> None:
    for name, node in models().items():
        in_reference_folder = any(folder(node)[:len(f)] == f for f in REFERENCE_FOLDERS)
        assert ("fmp_reference" in node["config"]["tags"]) == in_reference_folder, name


def test_models_set_no_folder_config_themselves() -> None:
    """Only the incremental strategy (a property of the model's SQL) is set in a model file."""
    allowed = {"incremental_strategy"}
    for path in (DBT_PROJECT_DIR / "models").rglob("*.sql"):
        for block in re.findall(r"config\((.*?)\)\s*}}", path.read_text(), flags=re.S):
            keys = set(re.findall(r"(\w+)\s*=", block))
            assert keys <= allowed, f"{path.name} sets {keys - allowed}: set it per folder"


def test_marts_are_grouped_by_area_in_the_gold_schema() -> None:
    marts = {name: node for name, node in models().items() if folder(node)[0] == "marts"}
    areas = {name: folder(node)[1] for name, node in marts.items() if len(folder(node)) == 2}
    assert areas == {
        "fct_daily_bars": "prices", "fct_daily_features": "prices",
        "fct_adjustment_factors": "prices", "fct_daily_bars_adjusted": "prices",
        "fct_portfolio_positions": "portfolio", "daily_portfolio_summary": "portfolio",
        "dim_tickers": "reference", "fct_fundamentals_quarterly": "reference",
    }
    assert {node["schema"] for node in marts.values()} == {"gold"}


def test_every_mart_the_api_serves_has_an_enforced_contract_with_its_columns() -> None:
    nodes = models()
    for dataset in API_DATASETS:
        node = nodes[dataset.table]
        assert node["config"]["contract"]["enforced"], dataset.table
        columns = node["columns"]
        assert columns and all(c.get("data_type") for c in columns.values()), dataset.table
        if dataset.columns is not None:
            assert set(dataset.columns) <= set(columns), dataset.table


def test_every_model_is_documented_and_its_key_tested() -> None:
    for name, node in models().items():
        assert node["description"].strip(), name
        assert node["columns"], name
        for column, spec in node["columns"].items():
            assert spec["description"].strip(), f"{name}.{column}"
        if name == "stg_silver__bars_1m_quarantine":
            continue  # no key by design: the same bad bar may be quarantined twice
        test_names = {t["test_metadata"]["name"] for t in data_tests_of(node) if t.get("test_metadata")}
        assert test_names & KEY_TESTS, f"{name} has no uniqueness test on its key"


def test_view_data_tests_check_the_runs_window_and_reference_data_all_of_it() -> None:
    for name, node in models().items():
        layer_folder = folder(node)[0]
        reference = "fmp_reference" in node["config"]["tags"]
        for test in data_tests_of(node):
            where = test["config"].get("where")
            if layer_folder in ("staging", "intermediate") and not reference:
                assert where == "__finks_window__", (name, test["name"])
            else:
                assert where is None, (name, test["name"])


def test_rollup_vwap_and_returns_have_dbt_unit_tests() -> None:
    tested = {}
    for unit_test in manifest()["unit_tests"].values():
        tested.setdefault(unit_test["model"], []).append(unit_test["name"])
    assert len(tested["int_bars_1m__daily_rollup"]) >= 2  # the rollup and its vwap
    assert any("vwap" in name for name in tested["int_bars_1m__daily_rollup"])
    assert any("returns" in name for name in tested["fct_daily_features"])


def test_translator_takes_layer_and_group_from_the_top_folder() -> None:
    translator = FinksDbtTranslator()
    nodes = models()
    expected = {"stg_silver__bars_1m": "staging", "int_bars_1m__daily_rollup": "intermediate",
                "fct_daily_bars": "gold", "dim_tickers": "gold", "stg_fmp__profiles": "staging"}
    for name, want in expected.items():
        assert translator.get_asset_key(nodes[name]).path == [want, name]
        assert translator.get_group_name(nodes[name]) == want
    seed = next(n for n in manifest()["nodes"].values() if n["resource_type"] == "seed")
    assert layer(seed) == "gold"
    stray = {**nodes["fct_daily_bars"], "fqn": ["finks", "gold", "fct_daily_bars"]}
    with pytest.raises(ValueError, match="models/gold"):
        layer(stray)


def test_dagster_splits_the_project_by_folder_into_two_pooled_assets() -> None:
    import dagster as dg

    from finks_assets.defs.gold.dbt_assets import (
        GOLD_POOL,
        gold_dbt_assets,
        reference_dbt_assets,
    )

    gold, reference = gold_dbt_assets(), reference_dbt_assets()
    assert gold_dbt_assets() is gold  # cached: the manifest is read once per process
    assert gold.backfill_policy == dg.BackfillPolicy.single_run()
    assert gold.partitions_def is not None and reference.partitions_def is None
    assert gold.op.pool == reference.op.pool == GOLD_POOL == "duckdb_gold"

    def names(asset: dg.AssetsDefinition) -> set[str]:
        return {key.path[-1] for key in asset.keys}

    reference_models = {name for name, node in models().items()
                        if "fmp_reference" in node["config"]["tags"]}
    seeds = {n["name"] for n in manifest()["nodes"].values() if n["resource_type"] == "seed"}
    assert seeds == {"portfolio_holdings"}
    assert names(reference) == reference_models | seeds
    assert names(gold) & names(reference) == set()
    # every model is an asset of one of the two, except ephemeral ones (inlined, no asset)
    assert {name for name, node in models().items()
            if node["config"]["materialized"] != "ephemeral"} <= names(gold) | names(reference)
