"""The intraday stream domain: the observed live table, end-of-day compaction, its job and an
after-close schedule. Replay and the consumer are processes (``finks replay``,
``finks stream-consume``), not Dagster runs."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from finks_assets.defs.stream.compaction import STREAM_COMPACTION, stream_bars_1m_compaction
from finks_assets.defs.stream.live import live_bars_asset
from finks_assets.lib import market_calendar
from finks_assets.lib.partitions import trading_days
from finks_assets.lib.settings import FinksSettings
from finks_assets.lib.stream.live_state import live_db_path

STREAM_COMPACTION_JOB = "stream_compaction"
# 16:30 New York: after the 16:00 close (and a 13:00 half day), before the 17:15 batch run.
COMPACTION_CRON = "30 16 * * 1-5"

stream_compaction_job = dg.define_asset_job(
    STREAM_COMPACTION_JOB, selection=dg.AssetSelection.assets(STREAM_COMPACTION),
    partitions_def=trading_days,
    description="Compact the day's stream micro-batches into the silver partition.",
)


def compaction_decision(day: dt.date) -> dg.RunRequest | dg.SkipReason:
    if not market_calendar.is_session(day):
        return dg.SkipReason(f"{day.isoformat()} is not an XNYS session (market closed)")
    return dg.RunRequest(run_key=f"stream_compaction_{day.isoformat()}",
                         partition_key=day.isoformat())


@dg.schedule(cron_schedule=COMPACTION_CRON, execution_timezone=market_calendar.EXCHANGE_TZ,
             job=stream_compaction_job, default_status=dg.DefaultScheduleStatus.STOPPED,
             description="After the close on trading days: compact the day's micro-batches.")
def stream_compaction_schedule(context: dg.ScheduleEvaluationContext):
    return compaction_decision(context.scheduled_execution_time.date())


def build_defs(settings: FinksSettings) -> dg.Definitions:
    return dg.Definitions(
        assets=[live_bars_asset(live_db_path(settings.data_dir)), stream_bars_1m_compaction],
        jobs=[stream_compaction_job],
        schedules=[stream_compaction_schedule],
    )
