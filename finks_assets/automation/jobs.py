"""Jobs: the whole bar pipeline, bronze to gold, for a partition or a range of them.

The daily job's price path depends on ``FINKS_SOURCE``: 1-minute bars (synthetic, yfinance)
or FMP end-of-day bars (fmp). Either way it holds only trading-day-partitioned assets; the
ticker-partitioned FMP reference datasets (profiles, statements) and the dbt models built on
them have their own job, ``fmp_reference_job``.
"""

from __future__ import annotations

import dagster as dg

from finks_assets.assets.fmp_prices import BRONZE_FMP_EOD, SILVER_BARS_1D
from finks_assets.assets.fmp_reference import fmp_reference_assets, tickers_partitions
from finks_assets.automation.freshness import freshness_checks
from finks_assets.partitions import trading_days

# The run-queue tag that keeps two runs from writing the same partitioned dataset at once
# (dagster.yaml locally, deploy/helm on EKS: one run per distinct value).
PARTITION_WRITER_TAG = "finks/partition-writer"

DAILY_BARS_JOB = "daily_bars_pipeline"
FMP_REFERENCE_JOB = "fmp_reference"
FMP_EOD_JOB = "fmp_eod_prices"

MINUTE_PATH = dg.AssetSelection.assets(
    ["bronze", "bars_1m"], ["silver", "bars_1m"], ["silver", "bars_1m_quarantine"])
FMP_EOD_PATH = dg.AssetSelection.assets(BRONZE_FMP_EOD, SILVER_BARS_1D)
# The per-ticker FMP datasets and everything built on them (dbt's dim_tickers, fundamentals).
FMP_REFERENCE = dg.AssetSelection.assets(*fmp_reference_assets).downstream()


def daily_bars_job_for(source: str) -> dg.UnresolvedAssetJobDefinition:
    other_path = MINUTE_PATH if source == "fmp" else FMP_EOD_PATH
    return dg.define_asset_job(
        name=DAILY_BARS_JOB,
        # Freshness checks judge "now", not the run's partitions: their own sensor runs them.
        selection=(dg.AssetSelection.all() - dg.AssetSelection.checks(*freshness_checks)
                   - FMP_REFERENCE - other_path),
        partitions_def=trading_days,
        tags={PARTITION_WRITER_TAG: "bars_1d" if source == "fmp" else "bars_1m"},
        description="Fetch -> bronze -> silver (quality-gated) -> dbt gold for trading days.",
    )


daily_bars_job = daily_bars_job_for("synthetic")

fmp_eod_job = dg.define_asset_job(
    name=FMP_EOD_JOB, selection=FMP_EOD_PATH, partitions_def=trading_days,
    tags={PARTITION_WRITER_TAG: "bars_1d"},
    description="FMP EOD prices to silver/bars_1d, e.g. as the reconciliation reference.",
)

fmp_reference_job = dg.define_asset_job(
    name=FMP_REFERENCE_JOB, selection=FMP_REFERENCE, partitions_def=tickers_partitions,
    tags={PARTITION_WRITER_TAG: "fmp_reference"},
    description="FMP profiles and statements for ticker partitions, then dim_tickers/fundamentals.",
)
