"""Gold: the dbt project ``finks_dbt`` loaded as Dagster assets.

The manifest is a build artifact (``dbt parse`` in ``make manifest``, CI and the image;
re-parsed under ``dagster dev`` only when a dbt source is newer); nothing parses at import. The asset factory
is cached so the manifest is read once per process, as in dagster-open-platform.
Each run hands dbt its partition window (as environment settings, so the saved parse is reused),
so a year of backfill is one ``dbt build``.
"""

from collections.abc import Mapping
from contextlib import ExitStack
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from finks_assets.lib.dbt.artifacts import keep_partial_parse, prune_invocation_dirs
from finks_assets.lib.dbt.project import dbt_project
from finks_assets.lib.dbt.translator import FinksDbtTranslator
from finks_assets.lib.environ import temporary_environ
from finks_assets.lib.partitions import SINGLE_RUN, partition_dates, trading_days
from finks_assets.lib.resources.lake import LakeResource
from finks_assets.lib.resources.market_data import MarketDataResource
from finks_assets.lib.resources.warehouse import WarehouseResource

FMP_REFERENCE_SELECTOR = "tag:fmp_reference"


def prune_dbt_target(context: dg.AssetExecutionContext) -> None:
    """Drop old per-run dbt target folders before adding one more (see dbt_artifacts)."""
    project = dbt_project()
    removed = prune_invocation_dirs(Path(project.project_dir) / project.target_path)
    if removed:
        context.log.info(f"removed {removed} old dbt target folder(s)")


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
    """The run's trading-date window (validated partition keys) plus the lake root."""
    days = partition_dates(context)
    return dbt_run_settings(
        lake, start_date=days[0].isoformat(), end_date=days[-1].isoformat(), **settings
    )


def build_with_settings(context: dg.AssetExecutionContext, dbt: DbtCliResource,
                        environment: Mapping[str, str], *resources_environments: Any):
    """``dbt build`` with the run settings exported, then keep its parse for the next run."""
    prune_dbt_target(context)
    with ExitStack() as stack:
        for resource in resources_environments:
            stack.enter_context(resource.dbt_environment())
        stack.enter_context(temporary_environ(environment))
        invocation = dbt.cli(["build"], context=context)
        yield from invocation.stream()
    keep_partial_parse(Path(invocation.target_path), Path(dbt_project().project_dir)
                       / dbt_project().target_path)


@cache
def gold_dbt_assets() -> dg.AssetsDefinition:
    project = dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=FinksDbtTranslator(),
        partitions_def=trading_days,
        backfill_policy=SINGLE_RUN,
        name="finks_dbt",
        # Ticker-partitioned FMP reference models build in their own unpartitioned dbt asset.
        exclude=FMP_REFERENCE_SELECTOR,
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
def fmp_reference_dbt_assets() -> dg.AssetsDefinition:
    project = dbt_project()

    @dbt_assets(manifest=project.manifest_path, project=project,
                dagster_dbt_translator=FinksDbtTranslator(), select=FMP_REFERENCE_SELECTOR,
                name="finks_dbt_fmp_reference")
    def finks_dbt_fmp_reference(context: dg.AssetExecutionContext, dbt: DbtCliResource,
                                lake: LakeResource, warehouse: WarehouseResource):
        yield from build_with_settings(context, dbt, dbt_run_settings(lake), warehouse, lake)

    return finks_dbt_fmp_reference
