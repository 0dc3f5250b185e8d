"""Partitions: one per weekday, named by the trading date (decision 1 of the design brief).

Ticker is deliberately *not* a partition dimension: 200 tickers x 252 days would pass
Dagster's recommended partition count within two years. Weekends never appear; exchange
holidays do appear (they are weekdays) and materialize as empty, "market closed" partitions.
``end_offset=1`` makes today's partition exist during the day so the after-close schedule
can target it.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from finks_assets.lib.lake.layout import trade_date_key

PARTITIONS_START = "2023-01-02"

trading_days = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 * * 1-5",
    fmt="%Y-%m-%d",
    start=PARTITIONS_START,
    timezone="America/New_York",
    end_offset=1,
)


# dbt gold builds a whole backfill window in one run (one `dbt build` with the window as vars).
SINGLE_RUN = dg.BackfillPolicy.single_run()


def range_backfill_policy(partitions_per_run: int) -> dg.BackfillPolicy:
    """How bronze and silver backfills are cut: Dagster launches one run per
    ``partitions_per_run`` days (``FINKS_PARTITIONS_PER_RUN``), shows progress per run,
    retries a failed run alone, and on EKS runs them in parallel pods."""
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=partitions_per_run)


def partition_dates(context: dg.AssetExecutionContext) -> list[dt.date]:
    """The trading dates of the partitions this run covers (one, or a range)."""
    return [dt.date.fromisoformat(trade_date_key(k)) for k in context.partition_keys]
