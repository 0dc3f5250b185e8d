"""Blocking semantics end to end, on the real pipeline (bronze -> silver -> dbt gold).

1. A range run where one day fails a blocking silver check: that day is held (not written,
   not materialized, so Dagster never builds its gold), the other day is materialized with its
   own numbers, and re-running the held day after the fix completes it.
2. A dbt test failure on staging: dbt skips the marts and a Python asset downstream of a mart
   is skipped too (dagster issues #25112 / #18472).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from finks_assets.cli.main import run_range
from finks_assets.definitions import build_definitions
from finks_assets.defs.bars_1m import silver as silver_module
from finks_assets.defs.bars_1m.jobs import daily_bars_job_for
from finks_assets.lib.dbt.project import DBT_PROJECT_DIR
from finks_assets.lib.partitions import trading_days
from finks_assets.lib.quality import silver_gate
from finks_assets.lib.settings import FinksSettings
from finks_assets.lib.transforms.silver_bars import SilverResult, clean_bars
from finks_assets_tests.integration.test_pipeline_end_to_end import BAD_DAY, FaultyMarketData

pytestmark = pytest.mark.skipif(
    not (DBT_PROJECT_DIR / "target" / "manifest.json").exists(),
    reason="dbt manifest missing: run `make manifest` (make test does it first)",
)
GOLD_BARS = dg.AssetKey(["gold", "fct_daily_bars"])


def settings_for(tmp_path: Path) -> FinksSettings:
    return FinksSettings.from_env(
        {"FINKS_DATA_DIR": str(tmp_path / "finks"), "FINKS_UNIVERSE": "AAPL,MSFT"}
    )


def leaky_clean_bars(bad_day: dt.date):
    """The real transform, except that on ``bad_day`` it forgets to quarantine (a silver bug)."""

    def clean(bars: pd.DataFrame, days: list[dt.date], threads: int = 2) -> SilverResult:
        on_bad = pd.to_datetime(bars["trade_date"]).dt.date == bad_day
        good = clean_bars(bars[~on_bad], days, threads)
        leaked = bars[on_bad].dropna(subset=["ts"])
        leaked = leaked[leaked["ts"].dt.date == bad_day].assign(
            volume=lambda f: f["volume"].fillna(0).astype("int64"))
        merged = pd.concat([good.bars, leaked[good.bars.columns]], ignore_index=True)
        merged["trade_date"] = pd.to_datetime(merged["trade_date"]).dt.date
        merged = merged.sort_values(["trade_date", "ticker", "ts"], ignore_index=True)
        return SilverResult(bars=merged, quarantine=good.quarantine, superseded=good.superseded)

    return clean


def gold_dates(settings: FinksSettings) -> set[str]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        rows = con.execute("select distinct trade_date from gold.fct_daily_bars").fetchall()
    return {r[0].isoformat() for r in rows}


def test_a_held_day_is_neither_written_nor_materialized_and_a_rerun_completes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(silver_module, "clean_bars", leaky_clean_bars(BAD_DAY))
    settings = settings_for(tmp_path)
    silver_dir = settings.lake_root / "silver" / "bars_1m"
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        result = run_range(settings, "2025-11-25", "2025-11-26", instance=instance,
                           resource_overrides={"market_data": FaultyMarketData()})
        assert not result.success  # the run is honest: its gate failed
        checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
        assert not checks["ohlc_invariants"].passed
        assert not checks["non_negative_volume"].passed
        held = checks["ohlc_invariants"].metadata["held_partitions"].data
        assert held == {"2025-11-25": ["ohlc_invariants", "non_negative_volume",
                                       "bars_in_session"]}
        # The held day: nothing written, not materialized; the other day: both, with its own
        # numbers. Gold waits (in a backfill Dagster builds the released day's gold itself).
        assert instance.get_materialized_partitions(silver_module.SILVER_BARS) == {"2025-11-26"}
        assert not (silver_dir / "trade_date=2025-11-25").exists()
        assert (silver_dir / "trade_date=2025-11-26" / "part-0.parquet").exists()
        assert not instance.get_materialized_partitions(GOLD_BARS)
        event = instance.get_latest_materialization_event(silver_module.SILVER_BARS)
        metadata = event.asset_materialization.metadata
        assert event.asset_materialization.partition == "2025-11-26"
        bars_on_26 = len(pd.read_parquet(silver_dir / "trade_date=2025-11-26"))
        assert metadata["dagster/row_count"].value == bars_on_26 > 0
        assert metadata["quality_report"].value.endswith("trade_date=2025-11-26/report.html")

        report = (settings.lake_root / "reports/silver/bars_1m/trade_date=2025-11-25/report.html")
        text = report.read_text()
        assert "FAILED: gold is not built for this day" in text
        assert "data:image/svg+xml;base64," in text
        good_report = report.parent.parent / "trade_date=2025-11-26" / "report.html"
        assert "Quality gate: <b>passed</b>" in good_report.read_text()

        monkeypatch.setattr(silver_module, "clean_bars", clean_bars)  # the fix
        rerun = run_range(settings, "2025-11-25", "2025-11-25", instance=instance,
                          resource_overrides={"market_data": FaultyMarketData()})
        assert rerun.success
        assert instance.get_materialized_partitions(silver_module.SILVER_BARS) == {
            "2025-11-25", "2025-11-26"}
        assert gold_dates(settings) == {"2025-11-25"}


def test_a_dbt_staging_test_failure_blocks_marts_and_python_assets_downstream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Silver lets a bad bar through (checks disabled): dbt's staging test must stop it."""
    monkeypatch.setattr(silver_module, "clean_bars", leaky_clean_bars(BAD_DAY))
    real_checks = silver_gate.run_bar_checks

    def checks_that_see_nothing(bars, days, history, thresholds):
        return real_checks(bars.iloc[0:0], days, history, thresholds)

    monkeypatch.setattr(silver_gate, "run_bar_checks", checks_that_see_nothing)
    settings = settings_for(tmp_path)
    calls: list[str] = []

    @dg.asset(deps=[GOLD_BARS], partitions_def=trading_days,
              key=dg.AssetKey(["analytics", "signals"]))
    def signals(context) -> None:  # noqa: ANN001 (Dagster rejects a string annotation)
        calls.append(context.partition_key)

    base = build_definitions(settings, {"market_data": FaultyMarketData()})
    defs = dg.Definitions.merge(base, dg.Definitions(
        assets=[signals],
        # The daily job's selection (trading-day assets of the 1-minute path) plus signals.
        jobs=[dg.define_asset_job("with_signals",
                                  daily_bars_job_for("synthetic").selection
                                  | dg.AssetSelection.assets(signals),
                                  partitions_def=trading_days)],
    ))
    result = defs.resolve_job_def("with_signals").execute_in_process(
        partition_key=BAD_DAY.isoformat(), raise_on_error=False)

    assert not result.success
    failed = {c.check_name for c in result.get_asset_check_evaluations()
              if not c.passed and c.asset_key.path[0] == "staging"}
    assert any(name.startswith("ohlc_consistency") for name in failed), failed
    materialized = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    # a failed dbt build publishes nothing, so Dagster records no dbt model (its checks still show)
    assert not {k for k in materialized if k.split("/")[0] in {"staging", "intermediate", "gold"}}
    marts = {"gold/fct_daily_bars", "gold/fct_daily_features", "gold/fct_portfolio_positions",
             "gold/daily_portfolio_summary", "intermediate/int_bars_1m__daily_rollup"}
    assert not marts & materialized  # dbt skipped every child of the failing staging tests
    assert calls == []  # the Python asset downstream of the mart never ran
    job = defs.resolve_job_def("with_signals")
    assert "analytics__signals" in {node.name for node in job.nodes}  # it was in the run
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert "analytics__signals" not in started and any("finks_dbt" in k for k in started)
