"""Partitions are XNYS sessions: a holiday is no partition at all.

Checked against exchange_calendars itself over the whole range the partitions cover, plus the
cases that break hand-written calendars: Thanksgiving and Christmas, half days, the DST
switches, the holiday-observed Friday, and which partition exists "now" (``end_offset=1``).
The after-close schedule requests exactly the session partitions.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd
import pytest

from finks_assets.defs.bars_1m.schedule import after_close_decision, after_close_schedule
from finks_assets.lib import market_calendar
from finks_assets.lib.partitions import PARTITIONS_START, build_trading_days, trading_days

D = dt.date
NY = market_calendar.EXCHANGE_TZ


def _keys_at(utc: str) -> list[str]:
    """The partition keys that exist when the wall clock shows ``utc``."""
    return trading_days.get_partition_keys(current_time=pd.Timestamp(utc, tz="UTC").to_pydatetime())


def _last_key_at(utc: pd.Timestamp) -> str | None:
    """The last partition key at ``utc`` (cheaper than listing them all)."""
    with dg.partition_loading_context(effective_dt=utc.to_pydatetime()):
        return trading_days.get_last_partition_key()


def test_holidays_are_not_partitions() -> None:
    keys = set(_keys_at("2027-01-15 12:00"))
    for holiday in ("2026-11-26", "2026-12-25", "2026-01-19", "2026-07-03", "2027-01-01"):
        assert holiday not in keys, holiday
        assert not trading_days.has_partition_key(holiday), holiday
    # The days around them are.
    assert {"2026-11-25", "2026-11-27", "2026-12-24", "2026-12-28", "2026-07-02"} <= keys


def test_partitions_are_exactly_the_xnys_sessions_up_to_the_calendar_end() -> None:
    end = market_calendar.calendar_end()
    assert end >= dt.date.today() + dt.timedelta(days=2 * 365)  # a few years ahead of now
    keys = trading_days.get_partition_keys(
        current_time=dt.datetime(end.year, end.month, end.day, 12))
    start = dt.date.fromisoformat(PARTITIONS_START)
    sessions = market_calendar.calendar().sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))
    expected = [s.date().isoformat() for s in sessions]
    assert keys[: len(expected)] == expected
    assert keys[0] == "2023-01-03"  # 2023-01-02 (New Year observed) is a holiday
    assert len(keys) - len(expected) <= 1  # at most the next day (end_offset) past the end


def test_half_days_are_partitions() -> None:
    keys = set(_keys_at("2027-01-15 12:00"))
    for day in (D(2025, 11, 28), D(2025, 12, 24), D(2026, 11, 27), D(2026, 12, 24)):
        assert market_calendar.session(day).is_half_day
        assert day.isoformat() in keys


@pytest.mark.parametrize(("before", "after", "utc_start_hours"), [
    ("2026-03-06", "2026-03-09", (5, 4)),  # clocks go forward on Sun 2026-03-08
    ("2026-10-30", "2026-11-02", (4, 5)),  # and back on Sun 2026-11-01
])
def test_dst_switches_keep_one_partition_per_session(
    before: str, after: str, utc_start_hours: tuple[int, int]
) -> None:
    assert trading_days.get_next_partition_key(before) == after
    for key, hour in zip((before, after), utc_start_hours, strict=True):
        window = trading_days.time_window_for_partition_key(key)
        assert window.start.isoformat()[:10] == key
        assert pd.Timestamp(window.start).tz_convert("UTC").hour == hour  # midnight New York


@pytest.mark.parametrize(("now_utc", "last_key"), [
    ("2026-11-30 15:00", "2026-11-30"),  # Monday, during the session
    ("2026-11-30 05:01", "2026-11-30"),  # Monday 00:01 New York, before the open
    ("2026-11-30 04:59", "2026-11-27"),  # still Sunday in New York
    ("2026-11-28 16:00", "2026-11-27"),  # Saturday: the half day is the last partition
    ("2026-11-27 17:30", "2026-11-27"),  # during the half day
    # Thanksgiving: Dagster counts end_offset in partitions, so Friday (not yet started) exists.
    # No source delivers a bar for it before it has happened (test_no_future_bars).
    ("2026-11-26 16:00", "2026-11-27"),
])
def test_the_current_session_exists_during_the_day(now_utc: str, last_key: str) -> None:
    assert _keys_at(now_utc)[-1] == last_key == _last_key_at(pd.Timestamp(now_utc, tz="UTC"))


def test_the_holiday_list_reaches_the_calendar_end() -> None:
    end = market_calendar.calendar_end(D(2026, 11, 30))
    assert end == D(2029, 12, 31)
    partitions = build_trading_days()
    excluded = {pd.Timestamp(e.timestamp, unit="s", tz="UTC").tz_convert(NY).date()
                for e in partitions.exclusions}
    assert D(2029, 11, 22) in excluded  # Thanksgiving 2029
    assert D(2029, 12, 25) in excluded
    assert all(d.weekday() < 5 for d in excluded)


def test_schedule_requests_exactly_the_sessions_and_their_partitions_exist_by_then() -> None:
    """A year of weekdays (two Thanksgivings, three half days, both DST switches, the observed
    Independence Day): a run for each session after its close, for a partition that exists at
    17:15 that day; a reasoned skip for each holiday."""
    for day in pd.bdate_range("2025-11-03", "2026-11-27").date:
        fire = pd.Timestamp(dt.datetime(day.year, day.month, day.day, 17, 15), tz=NY)
        context = dg.build_schedule_context(scheduled_execution_time=fire.to_pydatetime())
        session = market_calendar.session(day)
        if session is None:
            result = after_close_schedule.evaluate_tick(context)
            assert not result.run_requests and "market closed" in (result.skip_message or "")
            continue
        assert session.close_utc <= fire  # fires after the close, 13:00 half days included
        request = after_close_schedule(context)
        assert isinstance(request, dg.RunRequest) and request.partition_key == day.isoformat()
        assert _last_key_at(fire) == day.isoformat()


def test_schedule_skips_a_day_before_the_partitions_start() -> None:
    decision = after_close_decision(D(2022, 12, 30))  # a session, but no partition
    assert isinstance(decision, dg.SkipReason)
    assert "not a trading-day partition" in (decision.skip_message or "")


def test_the_committed_holiday_list_matches_exchange_calendars() -> None:
    """The definitions read the holidays from a file (no exchange_calendars at load time); an
    exchange_calendars update that adds or moves a closure must regenerate it:
    ``python -m finks_assets.lib.partitions``."""
    from finks_assets.lib import market_calendar, partitions

    first = dt.date.fromisoformat(partitions.PARTITIONS_START)
    last = market_calendar.calendar_end()
    assert last <= partitions.HOLIDAYS_FILE_END, "extend HOLIDAYS_FILE_END and regenerate"
    assert partitions.closed_weekdays(first, last) == market_calendar.closed_weekdays(first, last)
    assert dt.date(2026, 11, 26) in partitions.closed_weekdays(first, last)
