"""Flagged bars reach gold, the VWAP test catches a day a bad print drags, and the two vwaps
are named apart, with real dbt on DuckDB.

Silver is written the way the silver asset writes it: canonical bars through ``clean_bars``,
the real quality gate (``run_silver_gate``), ``with_flags`` from the gate's outcomes and the
lake writer. One day is planted with the issue's 100x bad print lasting two bars: the
revert-on-the-next-bar rule cannot quarantine it, ``outlier_jumps`` (WARN) names its first bar,
and gold's high is ~12,400 while its vwap stays inside [low, high] (the old test passed it).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.lake.writer import LakeWriter
from finks_assets.lib.quality.flags import with_flags
from finks_assets.lib.quality.silver_gate import run_silver_gate
from finks_assets.lib.quality.thresholds import BarQualityThresholds
from finks_assets.lib.sources.fmp.parse import eod_bars
from finks_assets.lib.transforms.silver_bars import clean_bars
from finks_assets_tests.unit.test_dbt_project import (
    DBT_THREADS,
    PROJECT_DIR,
    Warehouse,
    dbt_main,
    failures,
    release_duckdb,
    write_partition,
)

OLD_DAY = dt.date(2025, 11, 24)  # silver written before flags existed: no `flags` column
DAY = dt.date(2025, 11, 25)
OPEN = pd.Timestamp("2025-11-25 14:30", tz="UTC")
FETCH = pd.Timestamp("2025-11-25 22:00", tz="UTC")


def session(ticker: str, seed: int, n: int = 60) -> pd.DataFrame:
    """``n`` valid canonical bars around 124 with small moves."""
    rng = np.random.default_rng(seed)
    close = 124 * np.exp(np.cumsum(rng.normal(0, 0.0005, n)))
    open_ = np.concatenate(([124.0], close[:-1]))
    return pd.DataFrame({
        "ticker": ticker, "ts": pd.date_range(OPEN, periods=n, freq="1min"), "open": open_,
        "high": np.maximum(open_, close) + 0.02, "low": np.minimum(open_, close) - 0.02,
        "close": close, "volume": rng.integers(100, 5000, n).astype("float64"),
        "source": "synthetic", "ingested_at": FETCH, "trade_date": DAY,
    })


def write_silver_day(lake: Path) -> pd.DataFrame:
    """The silver asset's steps for DAY; returns the silver bars written."""
    aapl = session("AAPL", 1)
    aapl.loc[[30, 31], ["open", "high", "low", "close"]] *= 100  # two bad bars in a row: kept
    nvda = session("NVDA", 3)
    nvda.loc[20, ["open", "high", "low", "close"]] *= 100  # one that reverts: quarantined
    canonical = pd.concat([aapl, session("MSFT", 2), nvda], ignore_index=True)
    result = clean_bars(canonical, [DAY])
    writer = LakeWriter(LakeStore.local(str(lake)))
    gate = run_silver_gate(result, [DAY], writer.store, writer, BarQualityThresholds())
    assert not gate.held
    bars = with_flags(result.bars, gate.outcomes)  # the silver asset's one added line
    writer.write_partitions("silver", "bars_1m", bars, [DAY.isoformat()])
    writer.write_partitions("silver", "bars_1m_quarantine", result.quarantine, [DAY.isoformat()])
    return bars


def old_day_rows() -> list[dict]:
    ts = pd.date_range("2025-11-24 14:30", periods=3, freq="1min", tz="UTC")
    return [{"ticker": t, "ts": s.to_pydatetime(), "open": 120.0, "high": 121.0, "low": 119.0,
             "close": 120.0, "volume": 100, "source": "synthetic",
             "ingested_at": FETCH.to_pydatetime()} for t in ("AAPL", "MSFT") for s in ts]


def build(wh: Warehouse, **dbt_vars: str):
    """dbt build of fct_daily_bars and everything upstream of it (models, data and unit
    tests) with extra run settings; returns the result (tests may warn, not error)."""
    cli = ["build", "--select", "+fct_daily_bars", "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
           "--target-path", str(wh.root / "dbt_target"), "--log-path", str(wh.root / "dbt_logs"),
           "--vars", json.dumps({"lake_root": str(wh.lake), **dbt_vars}), "--threads", DBT_THREADS]
    try:
        result = dbt_main.dbtRunner().invoke(cli)
    finally:
        release_duckdb()
    assert result.success, f"dbt build failed: {failures(result)}"
    return result


def fct_test_statuses(result) -> dict[str, tuple[str, int]]:
    """{test unique_id: (status, failures)} of the build's data tests on fct_daily_bars."""
    return {r.node.unique_id: (str(r.status), r.failures or 0) for r in result.result
            if r.node.resource_type == "test" and "fct_daily_bars" in r.node.unique_id}


def one(statuses: dict[str, tuple[str, int]], *parts: str) -> tuple[str, int]:
    matches = [v for k, v in statuses.items() if all(p in k for p in parts)]
    assert len(matches) == 1, (parts, sorted(statuses))
    return matches[0]


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Warehouse:
    monkeypatch.setenv("FINKS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FINKS_WAREHOUSE_PATH", raising=False)
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return Warehouse(tmp_path)


def test_flagged_bars_reach_gold_and_the_vwap_test_catches_the_dragged_day(warehouse) -> None:
    write_partition(warehouse.lake, "bars_1m", OLD_DAY.isoformat(), old_day_rows())
    silver = write_silver_day(warehouse.lake)
    assert silver.loc[silver["flags"].notna(), ["ticker", "flags"]].values.tolist() == [
        ["AAPL", "outlier_jumps"]]

    result = build(warehouse)

    rows = {(t, d): (high, vwap, vendor_vwap, flagged, bar_count)
            for t, d, high, vwap, vendor_vwap, flagged, bar_count in warehouse.query(
                "select ticker, trade_date, high, vwap, vendor_vwap, flagged_bars, bar_count "
                "from gold.fct_daily_bars")}
    high, vwap, vendor_vwap, flagged, bar_count = rows[("AAPL", DAY)]
    assert flagged == 1 and bar_count == 60 and vendor_vwap is None
    assert high > 12_000 and vwap < high / 2  # the print drags the high, not the vwap
    assert rows[("MSFT", DAY)][3] == 0
    assert rows[("NVDA", DAY)][0] < 125 and rows[("NVDA", DAY)][3] == 0  # quarantined print
    # silver written before flags existed reads as unflagged, not as a bind error
    assert rows[("AAPL", OLD_DAY)][3] == 0 and rows[("MSFT", OLD_DAY)][3] == 0

    statuses = fct_test_statuses(result)
    # The old test could not see this day: the vwap of a close-weighted rollup is always in range.
    assert one(statuses, "expression_is_true", "vwap_between_low_and_high") == ("pass", 0)
    # The new one names exactly the dragged day, as a WARN.
    assert one(statuses, "vwap_within_day_range", "vwap", "fct_daily_bars_vwap") == ("warn", 1)
    assert one(statuses, "flagged_bars_bar_count") == ("pass", 0)


def test_a_clean_window_passes_the_vwap_test(warehouse) -> None:
    write_partition(warehouse.lake, "bars_1m", OLD_DAY.isoformat(), old_day_rows())
    result = build(warehouse)
    assert one(fct_test_statuses(result), "vwap_within_day_range", "fct_daily_bars_vwap") == ("pass", 0)
    assert warehouse.query("select sum(flagged_bars) from gold.fct_daily_bars") == [(0,)]


def test_a_window_run_reads_only_its_days_flags(warehouse) -> None:
    """The flags scan sits behind a union BY NAME and a left join: a window run must still read
    only the window's silver files (DuckDB's file filter), like the bars scan."""
    write_partition(warehouse.lake, "bars_1m", OLD_DAY.isoformat(), old_day_rows())
    write_silver_day(warehouse.lake)
    build(warehouse)
    with duckdb.connect(str(warehouse.root / "warehouse.duckdb"), read_only=True) as con:
        plan = con.execute(
            "explain analyze select * from intermediate.int_bars_1m__daily_rollup "
            "where trade_date = date '2025-11-25'").fetchall()[0][1]
    scans = plan.count("READ_PARQUET")
    assert scans == 2, plan  # the bars and the flags
    assert plan.count("Scanning Files: 1/2") == 2, plan


def test_fmp_rows_keep_fmps_vwap_as_vendor_vwap_and_have_no_vwap(warehouse) -> None:
    raw = json.dumps([{"symbol": "AAPL", "date": "2025-11-25", "open": 120.0, "high": 125.0,
                       "low": 119.0, "close": 124.0, "volume": 1_000_000, "vwap": 122.5}]).encode()
    frame = eod_bars(raw, "AAPL", pd.Timestamp("2025-11-26 01:00", tz="UTC"))
    LakeWriter(LakeStore.local(str(warehouse.lake))).write_partitions(
        "silver", "fmp_bars_1d", frame, [DAY.isoformat()])
    result = build(warehouse, daily_bars_from="bars_1d")
    assert warehouse.query(
        "select ticker, source, vwap, vendor_vwap, flagged_bars from gold.fct_daily_bars") == [
        ("AAPL", "fmp", None, 122.5, None)]
    statuses = fct_test_statuses(result)
    assert one(statuses, "vwap_within_day_range", "vendor_vwap") == ("pass", 0)
