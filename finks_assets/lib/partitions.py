"""Partitions: one per XNYS session, named by the trading date.

Ticker is deliberately *not* a partition dimension: 200 tickers x 252 days would pass
Dagster's recommended partition count within two years.

The partitions are a weekday cron with the exchange's holidays as ``exclusions`` (Dagster's
``TimeWindowPartitionsDefinition``), so a holiday such as Thanksgiving (2026-11-26) is not a
partition at all: it cannot be backfilled, requested or shown as missing. Half days are
sessions, so they are partitions. The holidays come from exchange_calendars when the
definitions load, from :data:`PARTITIONS_START` to :func:`market_calendar.calendar_end` (the
end of the year three years ahead); see :data:`market_calendar.HORIZON_YEARS`.

``end_offset=1``: the partition of the current day exists from midnight New York, so it can
be run during the session and the after-close schedule can target it. Dagster counts that
offset in partitions and keeps the cron's window boundaries, so on a holiday (and before the
open) the partition that exists last is a session that has not happened yet. That is safe
because no source delivers a bar before it has ended (:func:`market_calendar.bar_has_ended`):
such a run lands no bars, and its audit says the session had not started.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg

from finks_assets.lib import market_calendar
from finks_assets.lib.lake.layout import trade_date_key

PARTITIONS_START = "2023-01-02"  # a holiday (New Year observed): the first partition is 01-03
PARTITION_CRON = "0 0 * * 1-5"  # a window per weekday, midnight to midnight New York


# The holidays as a committed list, read when the definitions load, instead of building the
# exchange_calendars calendar there: that import and construction cost ~0.7 s of a ~4 s load
# (-X importtime, 2026-11-30), and the definitions load in every run and code-server process.
# The unit tests compare the file with exchange_calendars (regenerate: `python -m
# finks_assets.lib.partitions`); past its last year the calendar is built as before.
HOLIDAYS_FILE = Path(__file__).parent / "data" / "xnys_closed_weekdays.txt"
HOLIDAYS_FILE_END = dt.date(2032, 12, 31)


def closed_weekdays(first: dt.date, last: dt.date) -> list[dt.date]:
    """The exchange holidays (weekdays without a session) in [first, last]."""
    if last > HOLIDAYS_FILE_END or not HOLIDAYS_FILE.exists():
        return market_calendar.closed_weekdays(first, last)
    days = (dt.date.fromisoformat(line) for line in HOLIDAYS_FILE.read_text().split())
    return [d for d in days if first <= d <= last]


def build_trading_days(start: str = PARTITIONS_START) -> dg.TimeWindowPartitionsDefinition:
    """The session partitions; holidays from ``start`` to the calendar's end are excluded.

    Exclusions are naive midnights: Dagster reads them in the definition's time zone, where
    they equal the cron ticks of the holidays. Measured: ~70 exclusions for 2023-2029 add
    nothing measurable to listing the ~1,000 keys (see the partitions tests for the load cost).
    """
    first = dt.date.fromisoformat(start)
    holidays = closed_weekdays(first, market_calendar.calendar_end())
    return dg.TimeWindowPartitionsDefinition(
        cron_schedule=PARTITION_CRON,
        fmt="%Y-%m-%d",
        start=start,
        timezone=market_calendar.EXCHANGE_TZ,
        end_offset=1,
        exclusions=[dt.datetime(d.year, d.month, d.day) for d in holidays],
    )


trading_days = build_trading_days()


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


if __name__ == "__main__":  # regenerate HOLIDAYS_FILE from exchange_calendars
    import exchange_calendars as xcals
    import pandas as pd

    xnys = xcals.get_calendar(market_calendar.EXCHANGE, start=PARTITIONS_START,
                              end=HOLIDAYS_FILE_END.isoformat())
    weekdays = pd.bdate_range(PARTITIONS_START, HOLIDAYS_FILE_END)
    closed = weekdays.difference(xnys.sessions)
    HOLIDAYS_FILE.write_text("".join(f"{ts.date().isoformat()}\n" for ts in closed))
