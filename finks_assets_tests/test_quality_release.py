"""The gate's release logic: which days of a held range get gold, and the sensor's requests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg

from finks_assets.automation.alert_messages import RANGE_END_TAG, RANGE_START_TAG
from finks_assets.automation.gate_release import gate_release_sensor
from finks_assets.quality.gate import gate_metadata, releasable_ranges

WEEK = [dt.date(2025, 11, d) for d in (24, 25, 26, 27, 28)]


def test_releasable_ranges_split_around_held_days() -> None:
    assert releasable_ranges(WEEK, []) == [("2025-11-24", "2025-11-28")]
    assert releasable_ranges(WEEK, ["2025-11-26"]) == [
        ("2025-11-24", "2025-11-25"), ("2025-11-27", "2025-11-28")]
    assert releasable_ranges(WEEK, ["2025-11-24", "2025-11-28"]) == [("2025-11-25", "2025-11-27")]
    assert releasable_ranges(WEEK, [d.isoformat() for d in WEEK]) == []


@dg.asset(check_specs=[dg.AssetCheckSpec("ohlc_invariants", asset="silver_stand_in", blocking=True)])
def silver_stand_in():
    yield dg.Output(1)
    yield dg.AssetCheckResult(
        check_name="ohlc_invariants", passed=False, severity=dg.AssetCheckSeverity.ERROR,
        metadata=gate_metadata(WEEK, {"2025-11-26": ["ohlc_invariants"]}),
    )


@dg.asset(deps=[silver_stand_in])
def gold_stand_in() -> None:
    raise AssertionError("must be skipped by the blocking check")


def test_sensor_requests_one_gold_run_per_passing_stretch(tmp_path: Path) -> None:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = dg.materialize([silver_stand_in, gold_stand_in], instance=instance,
                                raise_on_error=False)
        assert not result.success
        started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
        assert started == {"silver_stand_in"}  # the blocking failure skipped gold_stand_in
        failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
        context = dg.build_run_status_sensor_context(
            sensor_name="gate_release_sensor", dagster_instance=instance,
            dagster_run=result.dagster_run, dagster_event=failure,
        ).for_run_failure()
        requests = gate_release_sensor(context)
    assert [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in requests] == [
        ("2025-11-24", "2025-11-25"), ("2025-11-27", "2025-11-28")]
    assert len({r.run_key for r in requests}) == 2  # idempotent per run and stretch
    assert all(r.tags["finks/released_from"] == result.run_id for r in requests)
