"""Gold: the dbt project ``finks_dbt`` loaded as Dagster assets.

Two assets split the project (the ``fmp_reference`` tag is set per folder in
``dbt_project.yml``, never per model):

* ``finks_dbt``: everything partitioned by trading day. A backfill is one run
  (``BackfillPolicy.single_run()``) and one ``dbt build`` over its window: dbt replaces the
  window's rows in the incremental marts, and the staging/intermediate views stay unfiltered.
* ``finks_dbt_reference``: reference data with no trading-day axis, unpartitioned: the
  ticker-partitioned FMP reference models and the seeds (``portfolio_holdings``).

The seeds are unpartitioned because they are static: as a partitioned root, a backfill built
all its days in a first run of their own, and Dagster then could not group the portfolio marts
with ``fct_daily_bars`` (their parent sets differed), so every gold run needed a second one for
the marts (8 gold runs instead of 4 in a 20 x 63 asset backfill). A partitioned build seeds a
warehouse that lacks them (a fresh one), so no run has to be launched first.

Both write the one DuckDB warehouse, which takes a single writer, so both run in the
``duckdb_gold`` concurrency pool. dbt builds into a private copy of the warehouse that is
published (renamed over it) only when the build passed, so readers never see half a build
(``lib/warehouse_publish.py``); the step reports its materializations after the publish, so
Dagster records exactly what readers can see. The manifest is a build artifact
(``make manifest``); the factories are cached so it is read once per process, as in
dagster-open-platform.
"""

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from finks_assets.lib.dbt.artifacts import keep_partial_parse, prune_invocation_dirs
from finks_assets.lib.dbt.project import dbt_project
from finks_assets.lib.dbt.translator import FinksDbtTranslator
from finks_assets.lib.environ import temporary_environ
from finks_assets.lib.partitions import partition_dates, trading_days
from finks_assets.lib.resources.lake import LakeResource
from finks_assets.lib.resources.market_data import MarketDataResource
from finks_assets.lib.resources.warehouse import WarehouseResource
from finks_assets.lib.warehouse_publish import GoldBuild

REFERENCE_SELECTOR = "tag:fmp_reference resource_type:seed"  # dbt's space is a union
GOLD_POOL = "duckdb_gold"
# dbt unit tests check the models' SQL, which does not change from one run to the next: they
# run in CI (the pytest dbt builds) and in any `dbt build` by hand, not in every scheduled run,
# where they took ~3 s of dbt thread time, ~15% of a 20 tickers x 2 days build. dbt Labs
# advises the same for production builds. The data tests still run (they are the asset checks).
DBT_BUILD_ARGS = ("build", "--exclude-resource-type", "unit_test")
# dbt targets that build gold in Athena (registered in Glue model by model): no warehouse file
# to publish there. Every other target writes the DuckDB warehouse (local, s3).
ATHENA_TARGETS = frozenset({"athena"})


def dbt_run_settings(lake: LakeResource, **settings: str) -> dict[str, str]:
    """The dbt project's per-run settings as ``FINKS_DBT_<NAME>`` environment variables.

    Not ``--vars``: dbt re-parses the whole project whenever the command-line vars differ from
    the saved parse (~3 s a run), while these are read only at execution time
    (``finks_run_setting`` in ``finks_dbt/macros/window.sql``), so every run reuses the parse.
    """
    values = {"lake_root": lake.lake_root_uri(), **settings}
    return {f"FINKS_DBT_{name.upper()}": value for name, value in values.items()}


def dbt_window_settings(context: dg.AssetExecutionContext, lake: LakeResource,
                        **settings: str) -> dict[str, str]:
    """The run's trading-date window (its first and last partition) plus the lake root."""
    days = partition_dates(context)
    return dbt_run_settings(
        lake, start_date=days[0].isoformat(), end_date=days[-1].isoformat(), **settings
    )


def build_with_settings(context: dg.AssetExecutionContext, dbt: DbtCliResource,
                        environment: Mapping[str, str], warehouse: WarehouseResource,
                        lake: LakeResource) -> Iterator[Any]:
    """``dbt build`` (no unit tests) with the run settings, into a copy of gold it then publishes.

    Drops old per-run target folders first and keeps this build's parse for the next run
    (``lib/dbt/artifacts.py`` says why).
    """
    target = Path(dbt_project().project_dir) / dbt_project().target_path
    removed = prune_invocation_dirs(target)
    if removed:
        context.log.info(f"removed {removed} old dbt target folder(s)")
    with ExitStack() as stack:
        stack.enter_context(lake.dbt_environment())
        if dbt.target in ATHENA_TARGETS:
            build = None
            stack.enter_context(warehouse.dbt_environment())
        else:
            build = stack.enter_context(warehouse.gold_build())
        # "cautious": a build of some models (the subset a backfill run requested) must not pull
        # in tests of models outside the selection, which may not exist yet on a fresh warehouse.
        # The environment, not --indirect-selection, since dagster-dbt may set that flag itself.
        stack.enter_context(temporary_environ({"DBT_INDIRECT_SELECTION": "cautious",
                                               **environment}))
        seeded = seed_if_missing(context, dbt, build)
        invocation = dbt.cli(list(DBT_BUILD_ARGS), context=context)
        yield from publish_then_report(context, invocation.stream(), build)
    for key in seeded:
        yield dg.AssetMaterialization(asset_key=key, description="seeded by a gold build: the "
                                      "warehouse did not have it")
    keep_partial_parse(Path(invocation.target_path), target)


def seed_if_missing(context: dg.AssetExecutionContext, dbt: DbtCliResource,
                    build: GoldBuild | None) -> list[dg.AssetKey]:
    """``dbt seed`` the seeds a partitioned build reads but the warehouse lacks (a fresh one).

    The seeds are another (unpartitioned) asset, so a trading-day run or backfill does not
    select them; without this a fresh warehouse's first build would fail every model reading
    one, and with it all of gold (a failed build publishes nothing). Costs one ``dbt seed`` per
    warehouse, and nothing once the seeds are there.
    """
    if context.selected_asset_keys.isdisjoint(seed_children()):
        return []
    if build is None:  # Athena: no file to look into; whether this instance ever loaded them
        keys = [s.key for s in seeds()
                if context.instance.get_latest_materialization_event(s.key) is None]
    else:
        missing = build.missing_relations([(s.schema, s.name) for s in seeds()])
        keys = [s.key for s in seeds() if (s.schema, s.name) in missing]
    if keys:
        context.log.info(f"seeding {', '.join(k.to_user_string() for k in keys)}: not in the "
                         "warehouse yet")
        dbt.cli(["seed", "--select", *(k.path[-1] for k in keys)],
                manifest=dbt_project().manifest_path).wait()
    return keys


@dataclass(frozen=True)
class Seed:
    schema: str
    name: str
    key: dg.AssetKey


@cache
def seeds() -> tuple[Seed, ...]:
    """The dbt project's seeds: where dbt loads them and their asset keys."""
    translator = FinksDbtTranslator()
    nodes = json.loads(Path(dbt_project().manifest_path).read_text())["nodes"].values()
    return tuple(Seed(n["schema"], n["alias"], translator.get_asset_key(n))
                 for n in nodes if n["resource_type"] == "seed")


@cache
def seed_children() -> frozenset[dg.AssetKey]:
    """The partitioned gold assets that read a seed (directly)."""
    keys = {s.key for s in seeds()}
    return frozenset(spec.key for spec in gold_dbt_assets().specs
                     if any(dep.asset_key in keys for dep in spec.deps))


def publish_then_report(context: dg.AssetExecutionContext, events: Iterable[Any],
                        build: GoldBuild | None) -> Iterator[Any]:
    """Hold dbt's events until the build is published, so Dagster records what readers see.

    A failed build publishes nothing and reports no materialization (readers keep the previous
    gold, and a retry rebuilds the whole window); its test results are still reported, so the
    failing checks show which test stopped it. Athena (``build is None``) streams as dbt goes.
    """
    if build is None:
        yield from events
        return
    held: list[Any] = []
    try:
        held.extend(events)
    except Exception:
        yield from (e for e in held if isinstance(e, dg.AssetCheckResult | dg.AssetCheckEvaluation))
        raise
    stats = build.publish()
    context.log.info(
        f"published gold ({stats.bytes / 1e6:.1f} MB): copy {stats.copy_seconds:.2f} s, "
        f"publish {stats.publish_seconds:.2f} s"
        + (f"; dropped dbt leftovers {', '.join(stats.dropped)}" if stats.dropped else "")
    )
    yield from held


@cache
def gold_dbt_assets() -> dg.AssetsDefinition:
    project = dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=FinksDbtTranslator(),
        partitions_def=trading_days,
        backfill_policy=dg.BackfillPolicy.single_run(),
        name="finks_dbt",
        exclude=REFERENCE_SELECTOR,
        pool=GOLD_POOL,
    )
    def finks_dbt(
        context: dg.AssetExecutionContext,
        dbt: DbtCliResource,
        lake: LakeResource,
        warehouse: WarehouseResource,
        market_data: MarketDataResource,
    ):
        # FINKS_SOURCE=fmp: fct_daily_bars comes from FMP EOD (silver/bars_1d), not 1-minute bars.
        environment = dbt_window_settings(
            context, lake, daily_bars_from="bars_1d" if market_data.source == "fmp" else "bars_1m"
        )
        context.log.info(f"dbt build for {environment['FINKS_DBT_START_DATE']}.."
                         f"{environment['FINKS_DBT_END_DATE']}")
        yield from build_with_settings(context, dbt, environment, warehouse, lake)

    return finks_dbt


@cache
def reference_dbt_assets() -> dg.AssetsDefinition:
    project = dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=FinksDbtTranslator(),
        select=REFERENCE_SELECTOR,
        name="finks_dbt_reference",
        pool=GOLD_POOL,
    )
    def finks_dbt_reference(context: dg.AssetExecutionContext, dbt: DbtCliResource,
                            lake: LakeResource, warehouse: WarehouseResource):
        yield from build_with_settings(context, dbt, dbt_run_settings(lake), warehouse, lake)

    return finks_dbt_reference


def seed_selection() -> dg.AssetSelection:
    """The seeds: reference data the trading-day jobs leave out (a partitioned build seeds a
    warehouse that lacks them)."""
    return dg.AssetSelection.assets(*(seed.key for seed in seeds()))
