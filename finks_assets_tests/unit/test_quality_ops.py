"""Thresholds per environment, run-id logging (text and JSON), and the freshness gate."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.test_utils import freeze_time  # Dagster's own clock override for tests

from finks_assets.defs.ops.freshness import freshness_checks, freshness_sensor
from finks_assets.lib.logging import NO_RUN, configure_logging, get_logger
from finks_assets.lib.partitions import trading_days
from finks_assets.lib.quality.thresholds import BarQualityThresholds, build_quality_resource
from finks_assets.lib.resources.factory import build_resources
from finks_assets.lib.settings import FinksSettings, SettingsError


def test_thresholds_are_overridable_per_environment(tmp_path: Path) -> None:
    settings = FinksSettings.from_env({
        "FINKS_DATA_DIR": str(tmp_path),
        "FINKS_QUALITY__BARS_1M__MAX_ABS_RETURN": "0.2",
        "FINKS_QUALITY__BARS_1M__MAX_STALE_BARS": "30",
    })
    quality = build_resources(settings)["quality"]
    assert quality.bars_1m.max_abs_return == 0.2 and quality.bars_1m.max_stale_bars == 30
    assert quality.bars_1m.max_missing_minutes == BarQualityThresholds().max_missing_minutes
    with pytest.raises(ValueError, match="unknown bars_1m threshold"):
        build_quality_resource({"bars_1m": {"max_abs_retrun": "0.2"}})
    with pytest.raises(ValueError):
        build_quality_resource({"bars_1m": {"max_abs_return": "-1"}})
    with pytest.raises(SettingsError, match="FINKS_QUALITY__"):
        FinksSettings.from_env({"FINKS_QUALITY__MAX_ABS_RETURN": "0.2"})


def test_alert_secrets_stay_out_of_resource_config(tmp_path: Path) -> None:
    settings = FinksSettings.from_env({
        "FINKS_DATA_DIR": str(tmp_path),
        "FINKS_ALERT_WEBHOOK_URL": "https://hooks.example/T0/secret-path",
        "FINKS_SLACK_TOKEN": "xoxb-not-a-real-token",
    })
    assert "secret-path" not in repr(settings) and "xoxb" not in repr(settings)
    alerts = build_resources(settings)["alerts"]
    assert isinstance(alerts.webhook_url, dg.EnvVar) and alerts.webhook_url.env_var_name == (
        "FINKS_ALERT_WEBHOOK_URL")
    assert build_resources(FinksSettings.from_env({"FINKS_DATA_DIR": str(tmp_path)}))[
        "alerts"].webhook_url is None


@dg.asset
def chatty() -> None:
    get_logger("test").info("inside the run")
    get_logger("test").warning("second line")


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_every_finks_log_line_carries_the_run_id(log_format: str) -> None:
    stream = io.StringIO()
    handler = configure_logging(log_format, stream=stream)
    try:
        get_logger("test").info("before any run")
        result = dg.materialize([chatty])
        lines = stream.getvalue().strip().splitlines()
    finally:
        logging.getLogger("finks").removeHandler(handler)
    assert len(lines) == 3
    if log_format == "json":
        records = [json.loads(line) for line in lines]
        assert [r["run_id"] for r in records] == [NO_RUN, result.run_id, result.run_id]
        assert records[1]["message"] == "inside the run" and records[2]["level"] == "WARNING"
    else:
        assert f"run_id={NO_RUN} before any run" in lines[0]
        assert all(f"run_id={result.run_id}" in line for line in lines[1:])


def test_log_format_is_validated() -> None:
    with pytest.raises(SettingsError, match="FINKS_LOG_FORMAT"):
        FinksSettings.from_env({"FINKS_LOG_FORMAT": "xml"})


@dg.multi_asset(
    specs=[dg.AssetSpec(["silver", "bars_1m"]), dg.AssetSpec(["gold", "fct_daily_bars"])],
    partitions_def=trading_days,
)
def stand_in():
    """Stands in for silver and gold (same keys and partitions) so freshness runs in seconds."""
    yield dg.MaterializeResult(asset_key=["silver", "bars_1m"])
    yield dg.MaterializeResult(asset_key=["gold", "fct_daily_bars"])


def evaluate_freshness(instance: dg.DagsterInstance) -> dict[str, bool]:
    result = dg.materialize([stand_in, *freshness_checks], instance=instance,
                            selection=dg.AssetSelection.checks(*freshness_checks))
    return {e.asset_key.to_user_string(): e.passed for e in result.get_asset_check_evaluations()}


def test_latest_partition_freshness_against_the_schedule(tmp_path: Path) -> None:
    after_deadline = datetime(2025, 11, 25, 23, 45, tzinfo=UTC)  # Tue 18:45 New York
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance, freeze_time(after_deadline):
        dg.materialize([stand_in], instance=instance, partition_key="2025-11-24")
        assert evaluate_freshness(instance) == {"silver/bars_1m": False, "gold/fct_daily_bars": False}
        dg.materialize([stand_in], instance=instance, partition_key="2025-11-25")
        assert evaluate_freshness(instance) == {"silver/bars_1m": True, "gold/fct_daily_bars": True}


def test_freshness_sensor_requests_the_checks(tmp_path: Path) -> None:
    defs = dg.Definitions(assets=[stand_in], asset_checks=freshness_checks,
                          sensors=[freshness_sensor])
    repository = defs.get_repository_def()
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        context = dg.build_sensor_context(instance=instance, repository_def=repository,
                                          sensor_name=freshness_sensor.name)
        data = repository.get_sensor_def(freshness_sensor.name).evaluate_tick(context)
    requested = {key for r in data.run_requests for key in (r.asset_check_keys or [])}
    assert {k.asset_key.to_user_string() for k in requested} == {"silver/bars_1m",
                                                                 "gold/fct_daily_bars"}


def test_freshness_sensor_waits_a_quarter_of_an_hour_between_evaluations() -> None:
    """Not every 30 s daemon tick: during an asset backfill each tick launched a check run."""
    from finks_assets.defs.ops.freshness import FRESHNESS_SENSOR_INTERVAL_S

    assert freshness_sensor.minimum_interval_seconds == FRESHNESS_SENSOR_INTERVAL_S == 900
