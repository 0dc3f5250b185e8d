"""The corporate-actions domain: splits and cash dividends from ``FINKS_SOURCE``, bronze to silver.
Gold's adjustment factors (``finks_dbt/models/marts/prices/fct_adjustment_factors.sql``) read
the silver dataset through the dbt source ``silver_corporate_actions``."""

from __future__ import annotations

import dagster as dg

from finks_assets.defs.corporate_actions.assets import (
    bronze_corporate_actions,
    bronze_corporate_actions_fmp,
    silver_corporate_actions,
)
from finks_assets.lib.settings import FinksSettings


def build_defs(settings: FinksSettings) -> dg.Definitions:
    # FMP's fetch needs the FMP client and its pool; the others the market-data vendor's pool.
    bronze = bronze_corporate_actions_fmp if settings.source == "fmp" else bronze_corporate_actions
    return dg.Definitions(assets=[bronze, silver_corporate_actions])
