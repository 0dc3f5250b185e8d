"""Jobs: the whole bar pipeline, bronze to gold, for a partition or a range of them."""

from __future__ import annotations

import dagster as dg

from finks_assets.automation.freshness import freshness_checks
from finks_assets.partitions import trading_days

DAILY_BARS_JOB = "daily_bars_pipeline"

daily_bars_job = dg.define_asset_job(
    name=DAILY_BARS_JOB,
    # Freshness checks judge "now", not the run's partitions: their own sensor runs them.
    selection=dg.AssetSelection.all() - dg.AssetSelection.checks(*freshness_checks),
    partitions_def=trading_days,
    description="Fetch -> bronze -> silver (quality-gated) -> dbt gold for trading days.",
)
