"""FMP jobs: end-of-day prices by trading day, and the per-ticker reference datasets.

The EOD path also runs inside ``daily_bars_pipeline`` when ``FINKS_SOURCE=fmp``; on its own it
refreshes the reconciliation reference. The reference job is partitioned by ticker (dynamic
partitions), so one ticker can be (re)fetched from the UI.
"""

from __future__ import annotations

import dagster as dg

from finks_assets.defs.fmp.eod import BRONZE_FMP_EOD, SILVER_FMP_BARS_1D
from finks_assets.defs.fmp.reference import fmp_reference_assets, tickers_partitions
from finks_assets.lib.partitions import trading_days

FMP_REFERENCE_JOB = "fmp_reference"
FMP_EOD_JOB = "fmp_eod_prices"

FMP_EOD_PATH = dg.AssetSelection.assets(BRONZE_FMP_EOD, SILVER_FMP_BARS_1D)
# The per-ticker FMP datasets and everything built on them (dbt's dim_tickers, fundamentals).
FMP_REFERENCE = dg.AssetSelection.assets(*fmp_reference_assets).downstream()

fmp_eod_job = dg.define_asset_job(
    name=FMP_EOD_JOB, selection=FMP_EOD_PATH, partitions_def=trading_days,
    description="FMP EOD prices to silver/fmp_bars_1d, e.g. as the reconciliation reference.",
)

fmp_reference_job = dg.define_asset_job(
    name=FMP_REFERENCE_JOB, selection=FMP_REFERENCE, partitions_def=tickers_partitions,
    description="FMP profiles and statements for ticker partitions, then dim_tickers/fundamentals.",
)
