"""The one factory that turns :class:`FinksSettings` into Dagster resources.

Every environment difference lives here; assets only name the resource keys they need.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import dagster as dg

from finks_assets.lib.dbt.cli_resource import FinksDbtCliResource
from finks_assets.lib.dbt.project import DBT_PROJECT_DIR
from finks_assets.lib.lake.io_manager import LakeParquetIOManager
from finks_assets.lib.ops_settings import SLACK_TOKEN_VAR, WEBHOOK_URL_VAR
from finks_assets.lib.quality.thresholds import build_quality_resource
from finks_assets.lib.resources.alerts import AlertResource
from finks_assets.lib.resources.fmp import FmpResource
from finks_assets.lib.resources.lake import LakeResource
from finks_assets.lib.resources.market_data import MarketDataResource
from finks_assets.lib.resources.universe import UniverseResource, UniverseSpecResource
from finks_assets.lib.resources.warehouse import WarehouseResource
from finks_assets.lib.settings import FinksSettings


def build_resources(settings: FinksSettings) -> dict[str, Any]:
    lake = _lake(settings)
    return {
        "lake": lake,
        "io_manager": LakeParquetIOManager(lake=lake),
        "market_data": MarketDataResource(
            source=settings.source, synthetic_seed=settings.synthetic_seed
        ),
        "universe": UniverseResource(tickers=list(settings.universe)),
        "warehouse": WarehouseResource(path=str(settings.warehouse_path)),
        "dbt": FinksDbtCliResource(
            project_dir=str(DBT_PROJECT_DIR),
            profiles_dir=str(DBT_PROJECT_DIR),
            target=DBT_TARGETS[settings.env],
            dbt_executable=_dbt_executable(),
        ),
        "quality": build_quality_resource(settings.ops.quality_overrides),
        "alerts": _alerts(settings),
        "fmp": _fmp(settings),
        "universe_spec": UniverseSpecResource(spec=settings.universe_spec),
    }


def _fmp(settings: FinksSettings) -> FmpResource:
    """FMP with its key as an EnvVar reference: the value never enters resource config."""
    fmp = settings.fmp
    return FmpResource(
        api_key=dg.EnvVar("FMP_API_KEY") if fmp.api_key else "",
        base_url=fmp.base_url, rate_limit_per_minute=fmp.rate_limit_per_minute,
    )


def _alerts(settings: FinksSettings) -> AlertResource:
    """Alert targets as EnvVar references: the secret values never enter resource config."""
    ops = settings.ops
    return AlertResource(
        webhook_url=dg.EnvVar(WEBHOOK_URL_VAR) if ops.webhook_configured else None,
        slack_token=dg.EnvVar(SLACK_TOKEN_VAR) if ops.slack_configured else None,
        slack_channel=ops.slack_channel,
    )


# local and s3 build gold in the DuckDB warehouse (s3 reads silver over httpfs); aws uses Athena.
DBT_TARGETS = {"local": "duckdb", "s3": "duckdb_s3", "aws": "athena"}


def _lake(settings: FinksSettings) -> LakeResource:
    store = settings.object_store
    if store is None:
        return LakeResource(root=str(settings.lake_root))
    return LakeResource(
        root=str(settings.lake_root), env=store.env, endpoint_url=store.endpoint_url,
        region=store.region, bronze_bucket=store.bronze_bucket,
        silver_bucket=store.silver_bucket, gold_bucket=store.gold_bucket,
        glue_database=store.glue_database, gold_glue_database=store.gold_glue_database,
    )


def _dbt_executable() -> str:
    """The dbt installed next to this interpreter (the dbt-core Finks imports), else PATH's.

    Beside the interpreter first: ``FinksDbtCliResource`` takes the executable's version from
    the imported dbt-core, so another dbt earlier on PATH must not win.
    """
    beside_python = Path(sys.executable).parent / "dbt"
    return str(beside_python) if beside_python.is_file() else shutil.which("dbt") or "dbt"
