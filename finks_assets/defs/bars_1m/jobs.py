"""The daily job: the whole bar pipeline, bronze to gold, for a partition or a range of them.

Its price path depends on ``FINKS_SOURCE``: 1-minute bars (synthetic, yfinance) or FMP
end-of-day bars (fmp). Either way it holds only trading-day-partitioned assets; the
ticker-partitioned FMP reference datasets have their own job (``defs/fmp/jobs.py``).
Concurrency is not limited per job: pools on the steps that need it (vendor APIs, the DuckDB
gold writer) do that, so runs of disjoint days proceed side by side.
"""

from __future__ import annotations

import dagster as dg

from finks_assets.defs.fmp.jobs import FMP_EOD_PATH, FMP_REFERENCE
from finks_assets.defs.gold.dbt_assets import seed_selection
from finks_assets.defs.ops.freshness import freshness_checks
from finks_assets.lib.partitions import trading_days

DAILY_BARS_JOB = "daily_bars_pipeline"

# Each price path up to the model fct_daily_bars reads it from. The job leaves out the other
# path's dbt models too: an asset backfill launched over the job's assets otherwise starts them
# as a run of their own and holds every gold partition until that run has finished (a 5 x 42
# backfill made 9 gold runs instead of one per silver run).
MINUTE_PATH = dg.AssetSelection.assets(
    ["bronze", "bars_1m"], ["silver", "bars_1m"], ["silver", "bars_1m_quarantine"],
    ["silver", "restatements"], ["staging", "stg_silver__bars_1m"],
    ["staging", "stg_silver__bars_1m_flags"], ["staging", "stg_silver__bars_1m_quarantine"],
    ["intermediate", "int_bars_1m__daily_rollup"])
FMP_EOD_DBT_PATH = FMP_EOD_PATH | dg.AssetSelection.assets(
    ["staging", "stg_fmp__bars_1d"], ["intermediate", "int_fmp__daily_bars"])


def daily_bars_job_for(source: str) -> dg.UnresolvedAssetJobDefinition:
    other_path = MINUTE_PATH if source == "fmp" else FMP_EOD_DBT_PATH
    return dg.define_asset_job(
        name=DAILY_BARS_JOB,
        # Freshness checks judge "now", not the run's partitions: their own sensor runs them.
        # The seeds are static reference data that the gold step loads if they are missing.
        selection=(dg.AssetSelection.all() - dg.AssetSelection.checks(*freshness_checks)
                   - FMP_REFERENCE - other_path - seed_selection()
                   # the day's micro-batches have their own after-close job (stream_compaction)
                   - dg.AssetSelection.groups("stream")),
        partitions_def=trading_days,
        description="Fetch -> bronze -> silver (quality-gated) -> dbt gold for trading days.",
    )
