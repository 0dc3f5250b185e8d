"""The gold domain: the dbt project ``finks_dbt`` as Dagster assets (manifest read once)."""

from __future__ import annotations

import dagster as dg

from finks_assets.defs.gold.dbt_assets import gold_dbt_assets, reference_dbt_assets
from finks_assets.lib.settings import FinksSettings


def build_defs(settings: FinksSettings) -> dg.Definitions:
    del settings  # gold reads its environment through the resources
    return dg.Definitions(assets=[gold_dbt_assets(), reference_dbt_assets()])
