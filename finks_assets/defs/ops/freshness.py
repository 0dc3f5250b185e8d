"""Freshness: the latest trading-day partition must land by 18:30 New York on weekdays.

The after-close schedule fires at 17:15; the checks give the pipeline 75 minutes. They are
Dagster's time-partition freshness checks (WARN), evaluated by the freshness sensor.
Known limit: holidays are no partitions, but ``end_offset=1`` makes the next session's
partition exist from midnight, so on an exchange holiday the 18:30 evaluation reports that
(not yet due) partition as missing (WARN) until it lands after its own close.
"""

from __future__ import annotations

import warnings

import dagster as dg

from finks_assets.lib import market_calendar

FRESHNESS_DEADLINE_CRON = "30 18 * * 1-5"
FRESHNESS_SENSOR_INTERVAL_S = 15 * 60
FRESH_ASSETS = [dg.AssetKey(["silver", "bars_1m"]), dg.AssetKey(["gold", "fct_daily_bars"])]

# Dagster 1.13 marks these builders "superseded" by FreshnessPolicy, which needs no sensor; the
# brief asks for an explicit check plus an evaluating sensor, so they stay (still supported).
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    freshness_checks = dg.build_time_partition_freshness_checks(
        assets=FRESH_ASSETS,
        deadline_cron=FRESHNESS_DEADLINE_CRON,
        timezone=market_calendar.EXCHANGE_TZ,
        severity=dg.AssetCheckSeverity.WARN,
    )
    freshness_sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=freshness_checks,
        name="freshness_checks_sensor",
        # The deadline is once a day, so a quarter of an hour is ample. Without a minimum the
        # sensor evaluated every 30 s tick, and during an asset backfill it launched a check run
        # about every minute: each backfill run plans the checks of its assets per partition,
        # and a check whose latest record is "planned" looks never evaluated to the sensor. In
        # the 20 x 63 webserver backfill that was 12 extra runs competing for the 2 run slots.
        minimum_interval_seconds=FRESHNESS_SENSOR_INTERVAL_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
