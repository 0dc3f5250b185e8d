"""Concurrency is limited by pools on the steps that need it, and every instance gives each pool
one slot.

The contract (issue 13): runs of disjoint days may run at once; only three shared resources are
serialized across all runs, each by a pool of one slot:
- `duckdb_gold`: every step that opens the DuckDB warehouse (the dbt gold steps: DuckDB has one
  writer, and a reader in another process cannot open the file while it writes);
- `market_data_api`: the 1-minute bronze fetch (yfinance / synthetic);
- `fmp_api`: every step that can call FMP, so parallel runs cannot multiply the FMP quota.
Silver and everything else carry no pool. No job carries the old one-run-per-dataset tag.
The instances: the local dagster.yaml (and compose's), and the Helm values as the chart renders
them, loaded by Dagster itself, whose slot bookkeeping must then hand out one slot per pool.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from finks_assets.definitions import build_definitions
from finks_assets.lib.settings import FinksSettings, SettingsError
from finks_assets_tests.deploy_tools import helm_instance_config, helm_values, load_instance

ROOT = Path(__file__).resolve().parents[2]
POOLS = {"duckdb_gold", "market_data_api", "fmp_api"}
OLD_WRITER_TAG = "finks/partition-writer"


def build_repo(tmp_path: Path, source: str) -> dg.RepositoryDefinition:
    settings = FinksSettings.from_env({
        "FINKS_DATA_DIR": str(tmp_path / "finks"), "FINKS_SOURCE": source,
        "FINKS_UNIVERSE": "AAPL", "FMP_API_KEY": "not-used",
    })
    return build_definitions(settings).get_repository_def()


def step_pools(repo: dg.RepositoryDefinition) -> dict[str, tuple[str | None, frozenset[str], str]]:
    """op name -> (pool, required resource keys, group) for every asset and asset-check step."""
    steps: dict[str, tuple[str | None, frozenset[str], str]] = {}
    for assets_def in repo.assets_defs_by_key.values():
        groups = {spec.group_name for spec in assets_def.specs}
        steps[assets_def.node_def.name] = (
            getattr(assets_def.node_def, "pool", None),
            frozenset(assets_def.required_resource_keys),
            "/".join(sorted(g or "" for g in groups)),
        )
    for checks_def in repo.asset_checks_defs_by_key.values():
        steps[checks_def.node_def.name] = (
            getattr(checks_def.node_def, "pool", None),
            frozenset(checks_def.required_resource_keys),
            "checks",
        )
    return steps


def expected_pool(resources: frozenset[str], group: str) -> str | None:
    """The pool a step belongs in, from what it touches."""
    if resources & {"dbt", "warehouse"}:
        return "duckdb_gold"
    if "fmp" in resources:
        return "fmp_api"
    if "market_data" in resources and group == "bronze":
        return "market_data_api"
    return None


@pytest.mark.parametrize("source", ["synthetic", "fmp"])
def test_pools_sit_exactly_on_the_shared_resources(tmp_path: Path, source: str) -> None:
    steps = step_pools(build_repo(tmp_path, source))
    wrong = {
        name: {"pool": pool, "expected": expected_pool(resources, group)}
        for name, (pool, resources, group) in steps.items()
        if pool != expected_pool(resources, group)
    }
    assert wrong == {}
    assert {pool for pool, _, _ in steps.values()} - {None} == POOLS
    # The fetch and gold steps are named here too, so the rule above cannot pass vacuously.
    assert steps["bronze__bars_1m"][0] == "market_data_api"
    assert steps["bronze__fmp_eod"][0] == "fmp_api"
    assert steps["finks_dbt"][0] == "duckdb_gold"
    assert steps["silver_bars_1m"][0] is None, "disjoint silver days must write side by side"


def test_the_pool_rule_catches_an_unpooled_fetch() -> None:
    assert expected_pool(frozenset({"fmp", "lake"}), "bronze") == "fmp_api"
    assert expected_pool(frozenset({"market_data", "lake", "quality"}), "silver") is None
    assert expected_pool(frozenset({"warehouse", "lake"}), "checks") == "duckdb_gold"


@pytest.mark.parametrize("source", ["synthetic", "fmp"])
def test_no_job_carries_the_old_writer_tag(tmp_path: Path, source: str) -> None:
    for job in build_repo(tmp_path, source).get_all_jobs():
        assert OLD_WRITER_TAG not in job.tags, job.name
    for path in [ROOT / "dagster.yaml", ROOT / "compose" / "dagster.yaml",
                 *sorted((ROOT / "deploy" / "helm").rglob("values*.yaml")),
                 *sorted((ROOT / "deploy" / "helm" / "run-tags").glob("*.yaml"))]:
        assert OLD_WRITER_TAG not in path.read_text(), path


def local_instance_yaml(name: str) -> dict:
    config = yaml.safe_load((ROOT / name).read_text())
    config.pop("storage", None)  # compose's Postgres: SQLite under the test's home instead
    return config


INSTANCES = {
    "local": lambda: local_instance_yaml("dagster.yaml"),
    "compose": lambda: local_instance_yaml("compose/dagster.yaml"),
    "helm-staging": lambda: helm_instance_config(helm_values("dagster", "staging")),
    "helm-prod": lambda: helm_instance_config(helm_values("dagster", "prod")),
}


@pytest.mark.parametrize("name", INSTANCES)
def test_every_instance_gives_each_pool_one_slot(name: str, tmp_path: Path) -> None:
    instance = load_instance(INSTANCES[name](), tmp_path / "home")
    try:
        pools = instance.get_concurrency_config().pool_config
        assert pools.default_pool_limit == 1
        assert pools.pool_granularity is not None and pools.pool_granularity.value == "op"
        assert instance.run_monitoring_settings.get("free_slots_after_run_end_seconds", 0) > 0
        storage = instance.event_log_storage
        for pool in sorted(POOLS):
            storage.initialize_concurrency_limit_to_default(pool)
            assert storage.get_concurrency_info(pool).slot_count == 1
            first = storage.claim_concurrency_slot(pool, "run-a", "step")
            second = storage.claim_concurrency_slot(pool, "run-b", "step")
            assert (first.is_claimed, second.is_claimed) == (True, False), pool
            storage.free_concurrency_slots_for_run("run-a")
            assert storage.claim_concurrency_slot(pool, "run-b", "step").is_claimed
    finally:
        instance.dispose()


def test_an_instance_without_pool_limits_would_not_serialize(tmp_path: Path) -> None:
    config = local_instance_yaml("dagster.yaml")
    del config["concurrency"]["pools"]
    instance = load_instance(config, tmp_path / "home")
    try:
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default("duckdb_gold")
        first = storage.claim_concurrency_slot("duckdb_gold", "run-a", "step")
        second = storage.claim_concurrency_slot("duckdb_gold", "run-b", "step")
        assert not (first.is_claimed and not second.is_claimed)
    finally:
        instance.dispose()


def test_launched_runs_execute_in_process_unless_configured_otherwise(tmp_path: Path) -> None:
    """A run's steps share one process (each step in its own process loaded the definitions
    again); FINKS_RUN_EXECUTOR=multiprocess restores a process per step, and a typo is an error."""
    def executor(**env: str) -> str:
        settings = FinksSettings.from_env({"FINKS_DATA_DIR": str(tmp_path / "finks"),
                                           "FINKS_UNIVERSE": "AAPL", **env})
        repo = build_definitions(settings).get_repository_def()
        names = {job.executor_def.name for job in repo.get_all_jobs()}
        assert len(names) == 1, names
        return names.pop()

    assert executor() == "in_process"
    assert executor(FINKS_RUN_EXECUTOR="multiprocess") == "multiprocess"
    with pytest.raises(SettingsError, match="FINKS_RUN_EXECUTOR"):
        executor(FINKS_RUN_EXECUTOR="threads")
