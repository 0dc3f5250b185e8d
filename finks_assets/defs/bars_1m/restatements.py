"""Restatement detection: the trailing re-check, ``silver/restatements``, and gold for restated days.

How the pieces fit:

1. ``restatement_recheck_schedule`` fires after the close (18:45 New York, after the 17:15
   daily run) and launches ``restatement_recheck`` over the last
   ``FINKS_RESTATEMENT_LOOKBACK_SESSIONS`` sessions as one partition-range run: bronze with
   ``refetch: true`` (one vendor call per ticker for the window, older fetches kept), silver
   with ``only_changed: true``, and ``silver/restatements``.
2. Silver rewrites and materializes only the days whose rows changed; the others keep their
   files and their gold.
3. ``silver/restatements`` compares every fetch of each day with the previous one
   (:mod:`finks_assets.lib.transforms.restatements`): one row per changed field, with both
   values and both fetch times. Its WARN check ``restatements_within_tolerance`` fails, and
   one alert goes to the alert channel, when this run found a change whose relative size
   exceeds ``FINKS_RESTATEMENT_TOLERANCE``.
4. ``restated_days_gold`` (a sensor) sees silver days materialized with ``changed_on_recheck``
   and requests gold -- everything downstream of silver -- for each such day alone, so gold is
   rebuilt for restated days only. A partition-range run cannot skip some of its days
   downstream, hence the sensor rather than gold inside the re-check run.
"""


import datetime as dt
from collections.abc import Iterator

import dagster as dg

from finks_assets.defs.bars_1m.bronze import BRONZE_BARS
from finks_assets.defs.bars_1m.silver import RECHECK_CHANGED_KEY, SILVER_BARS, SILVER_QUARANTINE
from finks_assets.lib import market_calendar
from finks_assets.lib.alert_messages import RANGE_END_TAG, RANGE_START_TAG, AlertMessage
from finks_assets.lib.partitions import partition_dates, range_backfill_policy, trading_days
from finks_assets.lib.resources.alerts import AlertResource
from finks_assets.lib.resources.lake import LakeResource
from finks_assets.lib.resources.market_data import MarketDataResource
from finks_assets.lib.settings import FinksSettings
from finks_assets.lib.transforms.partition_diff import held_partition, same_as_held
from finks_assets.lib.transforms.restatements import (
    beyond_tolerance,
    describe,
    detect_restatements,
    new_rows,
)

SILVER_RESTATEMENTS = dg.AssetKey(["silver", "restatements"])
TOLERANCE_CHECK = "restatements_within_tolerance"
RECHECK_JOB = "restatement_recheck"
RECHECK_CRON = "45 18 * * 1-5"  # New York; after the 17:15 after-close run
ALERT_LINES = 10
# Gold: every asset built from silver's 1-minute bars (the dbt models), but not silver itself.
GOLD_FROM_SILVER = dg.AssetSelection.assets(SILVER_BARS, SILVER_QUARANTINE).downstream(
    include_self=False)
RECHECK_RUN_CONFIG = {"ops": {
    "bronze__bars_1m": {"config": {"refetch": True}},
    "silver_bars_1m": {"config": {"only_changed": True}},
}}
MAX_RECORDS_PER_TICK = 1000


def restatements_asset(tolerance: float, backfill_policy: dg.BackfillPolicy | None = None,
                       ) -> dg.AssetsDefinition:
    """``silver/restatements`` with its WARN check at ``tolerance`` (relative change).

    ``backfill_policy``: bronze's, so a backfill computes a day's restatements in the run that
    fetched it (without it Dagster launched one run per day: 63 extra runs for 63 sessions).
    """

    @dg.asset(
        key=SILVER_RESTATEMENTS,
        deps=[BRONZE_BARS],
        group_name="silver",
        partitions_def=trading_days,
        backfill_policy=backfill_policy,
        kinds={"duckdb", "parquet"},
        check_specs=[dg.AssetCheckSpec(
            TOLERANCE_CHECK, asset=SILVER_RESTATEMENTS,
            description=f"No value this run found restated by more than {tolerance:g} "
                        "(relative change; a null filled or emptied always counts).",
        )],
        description="Each value a vendor changed between two fetches of a 1-minute bar: old and "
                    "new value, both fetch times. Rebuilt from bronze (append-only) per day.",
    )
    def silver_restatements(
        context: dg.AssetExecutionContext,
        market_data: MarketDataResource,
        lake: LakeResource,
        alerts: AlertResource,
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        import pandas as pd
        days = partition_dates(context)
        source = market_data.bar_source()
        store, writer = lake.store(), lake.writer()
        found: list[pd.DataFrame] = []
        for day in days:
            rows = detect_restatements(store, source, day)
            held = held_partition(store, "silver", "restatements", day)
            fresh = new_rows(rows, held)
            rewritten = not same_as_held(store, "silver", "restatements", day, rows, held=held)
            if rewritten:  # unchanged days keep their file (and its mtime)
                writer.write_partitions("silver", "restatements", rows, [day.isoformat()])
            found.append(fresh)
            context.add_asset_metadata({
                "dagster/row_count": len(rows), "new_restatements": len(fresh),
                "rewritten": rewritten,
            }, partition_key=day.isoformat())
        fresh = pd.concat(found, ignore_index=True)
        beyond = beyond_tolerance(fresh, tolerance)
        lines = [describe(row) for _, row in beyond.head(ALERT_LINES).iterrows()]
        if len(beyond) > ALERT_LINES:
            lines.append(f"... and {len(beyond) - ALERT_LINES} more")
        context.log.info(f"restatements {days[0]}..{days[-1]}: {len(fresh)} new, "
                         f"{len(beyond)} beyond tolerance {tolerance:g}"
                         + ("".join(f"\n  {line}" for line in lines)))
        if not beyond.empty:
            sent = alerts.send(AlertMessage(
                kind="restatement", run_id=context.run_id, job=context.job_name,
                partition=f"{days[0]}..{days[-1]}" if len(days) > 1 else days[0].isoformat(),
                assets=[SILVER_RESTATEMENTS.to_user_string()],
                failed_checks=[f"{SILVER_RESTATEMENTS.to_user_string()}:{TOLERANCE_CHECK} (WARN)"],
                errors=lines,
            ))
            context.log.info(f"restatement alert sent to {sent} target(s)")
        yield dg.MaterializeResult(metadata={"new_restatements": len(fresh)})
        yield dg.AssetCheckResult(
            check_name=TOLERANCE_CHECK, passed=beyond.empty,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "tolerance": tolerance, "new_restatements": len(fresh),
                "beyond_tolerance": len(beyond),
                "by_trade_date": dg.MetadataValue.json(
                    {str(k): int(v) for k, v in beyond.groupby("trade_date").size().items()}),
                "sample": dg.MetadataValue.md("\n".join(f"- {line}" for line in lines)
                                              or "No restatement beyond tolerance."),
            },
        )

    return silver_restatements


restatement_recheck_job = dg.define_asset_job(
    name=RECHECK_JOB,
    selection=dg.AssetSelection.assets(BRONZE_BARS, SILVER_BARS, SILVER_QUARANTINE,
                                       SILVER_RESTATEMENTS),
    partitions_def=trading_days,
    config=RECHECK_RUN_CONFIG,
    description="Re-fetch a window bronze holds, record what the vendor restated, and rewrite "
                "only the silver days that changed (their gold follows via restated_days_gold).",
)


def recheck_window(day: dt.date, lookback: int) -> list[dt.date]:
    """The last ``lookback`` sessions up to and including ``day``, inside the partitions."""
    first_partition = dt.date.fromisoformat(trading_days.start.strftime("%Y-%m-%d"))
    start = max(first_partition, day - dt.timedelta(days=2 * lookback + 14))
    sessions = [s.date for s in market_calendar.sessions_between(start, day)]
    return sessions[-lookback:] if lookback else []


def recheck_decision(day: dt.date, lookback: int) -> dg.RunRequest | dg.SkipReason:
    if lookback == 0:
        return dg.SkipReason("FINKS_RESTATEMENT_LOOKBACK_SESSIONS=0: the re-check is off")
    if not market_calendar.is_session(day):
        return dg.SkipReason(f"{day.isoformat()} is not an XNYS session (market closed)")
    window = recheck_window(day, lookback)
    return dg.RunRequest(
        run_key=f"restatement_recheck_{day.isoformat()}",
        # Explicit: a job's own config only reaches runs of one partition, not of a range.
        run_config=RECHECK_RUN_CONFIG,
        tags={RANGE_START_TAG: window[0].isoformat(), RANGE_END_TAG: window[-1].isoformat()},
    )


def recheck_schedule(lookback: int) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="restatement_recheck_schedule",
        cron_schedule=RECHECK_CRON,
        execution_timezone=market_calendar.EXCHANGE_TZ,
        job=restatement_recheck_job,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"After the close: re-fetch the last {lookback} session(s) and record "
                    "restatements (FINKS_RESTATEMENT_LOOKBACK_SESSIONS).",
    )
    def restatement_recheck_schedule(context: dg.ScheduleEvaluationContext):
        return recheck_decision(context.scheduled_execution_time.date(), lookback)

    return restatement_recheck_schedule


def restated_gold_requests(
    instance: dg.DagsterInstance, cursor: str | None
) -> dg.SensorResult | dg.SkipReason:
    """One gold run per silver day the re-check rewrote since ``cursor`` (a storage id)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=SILVER_BARS,
                              after_storage_id=int(cursor) if cursor else None),
        limit=MAX_RECORDS_PER_TICK, ascending=True,
    ).records
    if not records:
        return dg.SkipReason("no new silver/bars_1m materializations")
    requests = {}
    for record in records:
        flag = record.asset_materialization.metadata.get(RECHECK_CHANGED_KEY)
        if flag is not None and flag.value is True and record.partition_key:
            requests[record.partition_key] = dg.RunRequest(
                run_key=f"restated_gold_{record.partition_key}_{record.storage_id}",
                partition_key=record.partition_key,
            )
    return dg.SensorResult(run_requests=[requests[k] for k in sorted(requests)],
                           cursor=str(records[-1].storage_id))


@dg.sensor(
    name="restated_days_gold",
    asset_selection=GOLD_FROM_SILVER,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Rebuilds gold for each silver day the restatement re-check found changed, "
                "and for no other day.",
)
def restated_days_gold(context: dg.SensorEvaluationContext):
    return restated_gold_requests(context.instance, context.cursor)


def build_restatement_defs(settings: FinksSettings) -> dg.Definitions:
    return dg.Definitions(
        assets=[restatements_asset(settings.restatement_tolerance,
                                   range_backfill_policy(settings.run_days))],
        jobs=[restatement_recheck_job],
        schedules=[recheck_schedule(settings.restatement_lookback_sessions)],
        sensors=[restated_days_gold],
    )
