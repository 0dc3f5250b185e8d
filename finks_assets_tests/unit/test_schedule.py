from __future__ import annotations

import datetime as dt

import dagster as dg

from finks_assets.defs.bars_1m.schedule import after_close_decision, after_close_schedule


def test_runs_the_day_after_the_close_on_sessions_including_half_days() -> None:
    for day in (dt.date(2025, 11, 25), dt.date(2025, 11, 28)):
        decision = after_close_decision(day)
        assert isinstance(decision, dg.RunRequest)
        assert decision.partition_key == day.isoformat()


def test_skips_exchange_holidays_with_a_reason() -> None:
    for holiday in (dt.date(2025, 11, 27), dt.date(2025, 12, 25), dt.date(2026, 1, 19)):
        decision = after_close_decision(holiday)
        assert isinstance(decision, dg.SkipReason)
        assert "market closed" in (decision.skip_message or "")


def test_schedule_evaluates_in_new_york_after_the_close() -> None:
    assert after_close_schedule.execution_timezone == "America/New_York"
    hour = int(after_close_schedule.cron_schedule.split()[1])
    assert hour >= 16  # after the regular 16:00 close
    context = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2025, 7, 4, 17, 15)  # Independence Day
    )
    result = after_close_schedule.evaluate_tick(context)
    assert not result.run_requests and result.skip_message
    context = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2025, 7, 3, 17, 15))
    request = after_close_schedule(context)
    assert isinstance(request, dg.RunRequest) and request.partition_key == "2025-07-03"
