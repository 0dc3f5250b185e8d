"""The after-close schedule: one run per trading day, skipping exchange holidays.

It fires at 17:15 New York on weekdays (after the 16:00 close and well after a 13:00 half-day
close, leaving vendors time to finalize their bars) and asks the XNYS calendar whether the day
was a session; on a holiday it records a skip with the reason instead of running. Holidays are
not partitions (``lib/partitions.py``), so the skip also keeps it from requesting a partition
that does not exist; the day's own partition exists from midnight (``end_offset=1``).
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from finks_assets.defs.bars_1m.jobs import DAILY_BARS_JOB
from finks_assets.lib import market_calendar
from finks_assets.lib.partitions import trading_days

AFTER_CLOSE_CRON = "15 17 * * 1-5"


def after_close_decision(day: dt.date) -> dg.RunRequest | dg.SkipReason:
    if not market_calendar.is_session(day):
        return dg.SkipReason(f"{day.isoformat()} is not an XNYS session (market closed)")
    key = day.isoformat()
    if not trading_days.has_partition_key(key):  # e.g. before the partitions' start
        return dg.SkipReason(f"{key} is not a trading-day partition")
    return dg.RunRequest(run_key=f"after_close_{key}", partition_key=key)


@dg.schedule(
    cron_schedule=AFTER_CLOSE_CRON,
    execution_timezone=market_calendar.EXCHANGE_TZ,
    job_name=DAILY_BARS_JOB,  # the job's selection depends on FINKS_SOURCE (jobs.py)
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="After the close on trading days: ingest the day and rebuild gold for it.",
)
def after_close_schedule(context: dg.ScheduleEvaluationContext):
    scheduled = context.scheduled_execution_time
    return after_close_decision(scheduled.date())
