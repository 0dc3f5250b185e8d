"""The fetch planner: a run asks the vendor only for what bronze does not hold.

Real Dagster runs of ``bronze/bars_1m`` against the loopback Yahoo (yfinance's own code over a
``requests`` transport adapter), with the requests counted at the fake:
- a second backfill of a fully held window makes zero requests, and lands no file;
- ``refetch: true`` makes them all again (and keeps the older fetches);
- a window that is held for some tickers and days fetches exactly the rest;
- every run reports fetched / skipped / failed sessions per ticker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pytest

from finks_assets.defs.bars_1m.bronze import BRONZE_BARS, bronze_bars_1m
from finks_assets.lib.alert_messages import RANGE_END_TAG, RANGE_START_TAG
from finks_assets.lib.fetch_planner import fetch_report, plan_fetches
from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.lake.writer import LakeWriter
from finks_assets.lib.resources.factory import build_resources
from finks_assets.lib.settings import FinksSettings
from finks_assets.lib.transforms.bronze_audit import AUDIT_COLUMNS, write_audit
from finks_assets_tests.fake_vendor import FakeVendorMarketData
from finks_assets_tests.fakes.yahoo import Behaviour, FakeYahoo, isolated_yfinance

FIRST, LAST = "2025-11-24", "2025-12-01"  # Thanksgiving week and the Monday after (fake's now)
SESSIONS = 5  # 24, 25, 26, 28 (half day), Dec 1
TICKERS = ("AAPL", "MSFT", "JPM")


@pytest.fixture(autouse=True)
def _yfinance_state(tmp_path: Path) -> Iterator[None]:
    with isolated_yfinance(tmp_path / "yf-cache"):
        yield


def settings_for(tmp_path: Path, tickers: tuple[str, ...] = TICKERS) -> FinksSettings:
    return FinksSettings.from_env({"FINKS_DATA_DIR": str(tmp_path / "finks"),
                                   "FINKS_SOURCE": "yfinance", "FINKS_UNIVERSE": ",".join(tickers)})


def run_bronze(settings: FinksSettings, vendor: FakeVendorMarketData, instance: dg.DagsterInstance,
               first: str = FIRST, last: str = LAST, **config: object) -> dg.ExecuteInProcessResult:
    resources = {**build_resources(settings), "market_data": vendor.resource()}
    result = dg.materialize(
        [bronze_bars_1m], resources=resources, instance=instance,
        tags={RANGE_START_TAG: first, RANGE_END_TAG: last},
        run_config={"ops": {"bronze__bars_1m": {"config": config}}} if config else None,
    )
    assert result.success
    return result


def bronze_files(settings: FinksSettings) -> dict[str, int]:
    root = settings.lake_root / "bronze"
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*.parquet"))}


def run_metadata(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    events = result.get_asset_materialization_events()
    assert events, "bronze materialized nothing"
    return {k: v.value for k, v in events[0].materialization.metadata.items()}


def test_a_held_window_makes_no_request_and_refetch_makes_them_all(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    vendor = FakeVendorMarketData(FakeYahoo())
    with dg.instance_for_test() as instance:
        run_bronze(settings, vendor, instance)
        requests, minute_calls = len(vendor.fake.received), vendor.minute_chart_requests()
        assert minute_calls >= len(TICKERS)  # one 1m chart call per ticker, at least
        held = bronze_files(settings)
        assert len(held) == SESSIONS

        second = run_bronze(settings, vendor, instance)
        assert len(vendor.fake.received) == requests  # zero vendor requests of any kind
        assert bronze_files(settings) == held  # nothing written, nothing touched
        meta = run_metadata(second)
        assert meta["vendor_calls"] == 0
        assert (meta["sessions_fetched"], meta["sessions_skipped"], meta["sessions_failed"]) == (
            0, SESSIONS * len(TICKERS), 0)
        assert meta["fetch_report"] == {t: {"fetched": 0, "skipped": SESSIONS, "failed": 0}
                                        for t in TICKERS}

        third = run_bronze(settings, vendor, instance, refetch=True)
        assert vendor.minute_chart_requests() == 2 * minute_calls  # all of them again
        after = bronze_files(settings)
        assert len(after) == 2 * SESSIONS and set(held) <= set(after)  # older fetches kept
        assert all(after[name] == mtime for name, mtime in held.items())
        assert run_metadata(third)["fetch_report"] == {
            t: {"fetched": SESSIONS, "skipped": 0, "failed": 0} for t in TICKERS}


def test_only_the_missing_tickers_and_days_are_fetched(tmp_path: Path) -> None:
    vendor = FakeVendorMarketData(FakeYahoo())
    with dg.instance_for_test() as instance:
        # AAPL and MSFT for the first three days are held ...
        run_bronze(settings_for(tmp_path, ("AAPL", "MSFT")), vendor, instance, last="2025-11-26")
        before = len(vendor.fake.chart_requests(interval="1m"))
        # ... so the whole window for three tickers fetches JPM over all of it and the others
        # for the two later days only.
        result = run_bronze(settings_for(tmp_path), vendor, instance)
        calls = vendor.fake.chart_requests(interval="1m")[before:]
    days_asked = {}
    for call in calls:
        start = pd.Timestamp(int(call.params["period1"]), unit="s", tz="UTC")
        days_asked.setdefault(call.symbol, set()).add(start.tz_convert("America/New_York").date())
    assert set(days_asked) == set(TICKERS)
    assert min(days_asked["AAPL"]) == min(days_asked["MSFT"]) == dt.date(2025, 11, 28)
    assert min(days_asked["JPM"]) == dt.date(2025, 11, 24)
    meta = run_metadata(result)
    assert meta["vendor_calls"] == 2
    assert meta["fetch_report"] == {"AAPL": {"fetched": 2, "skipped": 3, "failed": 0},
                                    "MSFT": {"fetched": 2, "skipped": 3, "failed": 0},
                                    "JPM": {"fetched": 5, "skipped": 0, "failed": 0}}


def test_failed_tickers_are_reported_and_fetched_again(tmp_path: Path) -> None:
    vendor = FakeVendorMarketData(FakeYahoo({"JPM": Behaviour.delisted()}))
    settings = settings_for(tmp_path)
    with dg.instance_for_test() as instance:
        first = run_bronze(settings, vendor, instance)
        assert run_metadata(first)["fetch_report"]["JPM"] == {
            "fetched": 0, "skipped": 0, "failed": SESSIONS}
        jpm_before = jpm_requests(vendor)
        aapl_before = len(vendor.fake.chart_requests("AAPL", interval="1m"))
        assert jpm_before > 0 and aapl_before > 0
        second = run_bronze(settings, vendor, instance)
        assert jpm_requests(vendor) > jpm_before  # not held: asked again
        assert len(vendor.fake.chart_requests("AAPL", interval="1m")) == aapl_before  # held
    report = run_metadata(second)["fetch_report"]
    assert report["AAPL"] == {"fetched": 0, "skipped": SESSIONS, "failed": 0}
    assert report["JPM"]["failed"] == SESSIONS
    checks = second.get_asset_check_evaluations()
    assert [c.passed for c in checks if c.asset_key == BRONZE_BARS] == [False]


def jpm_requests(vendor: FakeVendorMarketData) -> int:
    return sum("JPM" in r.path for r in vendor.fake.received)


def audit_record(ticker: str, day: dt.date, fetched_at: str, status: str = "ok",
                 rows: int = 390) -> dict:
    return {"run_id": "r", "source": "synthetic", "dataset": "bars_1m", "trade_date": day,
            "ticker": ticker, "status": status, "rows_received": rows if status == "ok" else 0,
            "duplicate_rows": 0, "aligned_minutes": rows, "first_ts": None, "last_ts": None,
            "error": None, "fetched_at": pd.Timestamp(fetched_at, tz="UTC")}


def test_only_a_delivery_after_the_close_whose_file_is_still_there_counts_as_held(
        tmp_path: Path) -> None:
    store = LakeStore.local(str(tmp_path))
    writer = LakeWriter(store)
    day = dt.date(2025, 11, 25)  # closes 21:00 UTC
    records = {
        "20251125T200000000000Z_during": [audit_record("AAPL", day, "2025-11-25 20:00")],
        "20251125T220000000000Z_after": [audit_record("MSFT", day, "2025-11-25 22:00"),
                                         audit_record("JPM", day, "2025-11-25 22:00", "error"),
                                         audit_record("XOM", day, "2025-11-25 22:00", "empty")],
        "20251125T230000000000Z_gone": [audit_record("JNJ", day, "2025-11-25 23:00")],
    }
    for name, rows in records.items():
        write_audit(writer, "synthetic", rows, name)
        if not name.endswith("gone"):  # JNJ's bronze file was lost: its audit vouches for nothing
            writer.write_parquet(f"bronze/source=synthetic/dataset=bars_1m/trade_date={day}/"
                                 f"{name}.parquet", pa.table({"x": [1]}))
    tickers = ["AAPL", "MSFT", "JPM", "XOM", "JNJ"]
    plan = plan_fetches(store, "synthetic", tickers, [day])
    assert plan.held == {"AAPL": (), "MSFT": (day,), "JPM": (), "XOM": (), "JNJ": ()}
    assert [g.tickers for g in plan.groups] == [("AAPL", "JPM", "XOM", "JNJ")]
    assert plan_fetches(store, "synthetic", tickers, [day], refetch=True).pairs_to_fetch == 5
    report = fetch_report(plan, pd.DataFrame([audit_record("AAPL", day, "2025-11-26 01:00"),
                                              audit_record("JPM", day, "2025-11-26 01:00", "error")],
                                             columns=AUDIT_COLUMNS))
    assert report["MSFT"] == {"fetched": 0, "skipped": 1, "failed": 0}
    assert report["AAPL"] == {"fetched": 1, "skipped": 0, "failed": 0}
    assert report["JPM"] == {"fetched": 0, "skipped": 0, "failed": 1}


def test_held_history_outlives_the_yfinance_30_day_window(tmp_path: Path) -> None:
    """Forty days later Yahoo no longer serves the week: it is not asked for, and even a
    ``refetch`` (which the adapter cannot send past the horizon) loses nothing bronze holds."""
    settings = settings_for(tmp_path)
    fake = FakeYahoo()
    with dg.instance_for_test() as instance:
        run_bronze(settings, FakeVendorMarketData(fake), instance)
        held = bronze_files(settings)
        fake.now = fake.now + pd.Timedelta(days=40)
        later = FakeVendorMarketData(fake)  # its clock starts at the fake's new now
        requests = len(fake.received)
        second = run_bronze(settings, later, instance)
        assert len(fake.received) == requests
        assert run_metadata(second)["sessions_skipped"] == SESSIONS * len(TICKERS)
        minute_calls = later.minute_chart_requests()
        third = run_bronze(settings, later, instance, refetch=True)
        assert later.minute_chart_requests() == minute_calls  # never sent past the horizon
        assert run_metadata(third)["sessions_failed"] == SESSIONS * len(TICKERS)
        assert bronze_files(settings) == held  # nothing lost, nothing rewritten
        fourth = run_bronze(settings, later, instance)  # still held after the failed refresh
        assert run_metadata(fourth)["vendor_calls"] == 0
