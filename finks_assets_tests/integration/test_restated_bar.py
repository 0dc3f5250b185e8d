"""A restated bar: the vendor changes one bar's close; the trailing re-check records
exactly one restatement and gold is rebuilt for that day alone.

Real Dagster, real dbt on DuckDB, yfinance's own code against the loopback Yahoo. Steps:
1. bronze -> silver -> restatements -> gold for a week (one partition-range run);
2. the fake changes AAPL's last close of 2025-11-25;
3. the re-check run the schedule asks for (bronze refetch, silver only-changed, restatements);
4. the ``restated_days_gold`` sensor, evaluated as the daemon would, and the run it requests.
Byte counts and mtimes of every silver and restatements partition show that only 2025-11-25
was rewritten, and the gold materializations show that only its gold was rebuilt. A second
re-check with nothing new rewrites nothing, finds nothing and requests no gold.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from finks_assets.defs.bars_1m.bronze import bronze_bars_1m
from finks_assets.defs.bars_1m.restatements import (
    GOLD_FROM_SILVER,
    RECHECK_JOB,
    SILVER_RESTATEMENTS,
    TOLERANCE_CHECK,
    recheck_decision,
    restated_days_gold,
    restatement_recheck_job,
    restatements_asset,
)
from finks_assets.defs.bars_1m.silver import SILVER_BARS, silver_bars_1m
from finks_assets.defs.gold.dbt_assets import gold_dbt_assets
from finks_assets.lib.alert_messages import RANGE_END_TAG, RANGE_START_TAG
from finks_assets.lib.resources.alerts import AlertResource
from finks_assets.lib.resources.factory import build_resources
from finks_assets.lib.settings import FinksSettings
from finks_assets_tests.fake_vendor import FakeVendorMarketData
from finks_assets_tests.fakes import yahoo
from finks_assets_tests.fakes.yahoo import FakeYahoo, isolated_yfinance

pytest.importorskip("dbt.adapters.duckdb")

FIRST, LAST = "2025-11-24", "2025-12-01"
RESTATED_DAY = "2025-11-25"
RESTATED_TS = pd.Timestamp("2025-11-25 20:59", tz="UTC")  # the session's last bar: the close
GOLD_BARS = dg.AssetKey(["gold", "fct_daily_bars"])


class Receiver:
    """A loopback webhook: the alert channel, over real HTTP."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        received = self.messages

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()
        r.thread.join(timeout=5)


def partition_files(lake: Path, dataset: str) -> dict[str, tuple[int, int]]:
    """trade_date -> (bytes, mtime_ns) of the partition's file."""
    return {p.parent.name.removeprefix("trade_date="): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted((lake / "silver" / dataset).glob("trade_date=*/*.parquet"))}


def gold_partitions_since(instance: dg.DagsterInstance, after: int | None) -> list[str]:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=GOLD_BARS, after_storage_id=after), limit=100).records
    return sorted(r.partition_key for r in records)


def latest_storage_id(instance: dg.DagsterInstance, key: dg.AssetKey) -> int:
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=1).records
    return records[0].storage_id


def test_a_restated_close_is_one_row_and_rebuilds_that_days_gold_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> None:
    for name in ("START_DATE", "END_DATE", "LAKE_ROOT", "DAILY_BARS_FROM"):
        monkeypatch.delenv(f"FINKS_DBT_{name}", raising=False)
    settings = FinksSettings.from_env({"FINKS_DATA_DIR": str(tmp_path / "finks"),
                                       "FINKS_SOURCE": "yfinance", "FINKS_UNIVERSE": "AAPL,MSFT"})
    lake = settings.lake_root
    vendor = FakeVendorMarketData(FakeYahoo())
    resources = {**build_resources(settings), "market_data": vendor.resource(),
                 "alerts": AlertResource(webhook_url=receiver.url)}
    assets = [bronze_bars_1m, silver_bars_1m, restatements_asset(settings.restatement_tolerance),
              gold_dbt_assets()]
    defs = dg.Definitions(assets=assets, jobs=[restatement_recheck_job],
                          sensors=[restated_days_gold], resources=resources)

    with isolated_yfinance(tmp_path / "yf-cache"), dg.instance_for_test() as instance:
        # 1. The week, bronze to gold.
        built = dg.materialize(assets, resources=resources, instance=instance,
                               tags={RANGE_START_TAG: FIRST, RANGE_END_TAG: LAST})
        assert built.success
        silver_before = partition_files(lake, "bars_1m")
        quarantine_before = partition_files(lake, "bars_1m_quarantine")
        restatements_before = partition_files(lake, "restatements")
        assert len(silver_before) == len(restatements_before) == 5
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            gold_before = con.execute(
                "select ticker, trade_date::varchar, close from gold.fct_daily_bars order by all"
            ).fetchall()
        assert len(gold_before) == 10
        gold_mark = latest_storage_id(instance, GOLD_BARS)
        silver_mark = latest_storage_id(instance, SILVER_BARS)

        # 2. The vendor restates one close (kept inside the bar's high/low, so it stays valid).
        original = yahoo.bar_values
        old_close = original("AAPL", int(RESTATED_TS.timestamp()))[3]
        new_close = yahoo._f32(old_close + 0.01)

        def restated(symbol: str, epoch_s: int) -> tuple[float, float, float, float, int]:
            values = original(symbol, epoch_s)
            if (symbol, epoch_s) == ("AAPL", int(RESTATED_TS.timestamp())):
                return (values[0], values[1], values[2], new_close, values[4])
            return values

        monkeypatch.setattr(yahoo, "bar_values", restated)

        # 3. The re-check the schedule requests on 2025-12-01 (last 5 sessions).
        request = recheck_decision(dt.date(2025, 12, 1), settings.restatement_lookback_sessions)
        assert isinstance(request, dg.RunRequest)
        assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (FIRST, LAST)
        minute_calls = vendor.minute_chart_requests()
        recheck = defs.resolve_job_def(RECHECK_JOB).execute_in_process(
            instance=instance, tags=request.tags, run_config=request.run_config)
        assert recheck.success
        assert vendor.minute_chart_requests() > minute_calls  # refetch reached the vendor

        # Exactly one restatement row, with both values and both fetch times.
        with duckdb.connect() as con:
            rows = con.execute(
                "select ticker, ts, field, old_value, new_value, old_fetched_at, new_fetched_at,"
                " trade_date::varchar as trade_date from read_parquet(?, hive_partitioning = true)",
                [str(lake / "silver/restatements/*/*.parquet")]).df()
        assert len(rows) == 1
        row = rows.iloc[0]
        assert (row["ticker"], row["field"], row["trade_date"]) == ("AAPL", "close", RESTATED_DAY)
        assert pd.Timestamp(row["ts"]).tz_convert("UTC") == RESTATED_TS
        assert (row["old_value"], row["new_value"]) == (old_close, new_close)
        assert row["old_fetched_at"] < row["new_fetched_at"]

        # Only the restated day's silver and restatements files were rewritten.
        for dataset, before in (("bars_1m", silver_before),
                                ("bars_1m_quarantine", quarantine_before),
                                ("restatements", restatements_before)):
            after = partition_files(lake, dataset)
            assert set(after) == set(before)
            changed = sorted(day for day in after if after[day] != before[day])
            assert changed == [RESTATED_DAY], dataset  # a changed day is rewritten whole
        silver_events = recheck.asset_materializations_for_node("silver_bars_1m")
        assert sorted({e.partition for e in silver_events}) == [RESTATED_DAY]
        assert not gold_partitions_since(instance, gold_mark)  # the re-check builds no gold

        # The WARN check failed and the alert channel got one message naming the bar.
        (check,) = [c for c in recheck.get_asset_check_evaluations()
                    if c.asset_key == SILVER_RESTATEMENTS and c.check_name == TOLERANCE_CHECK]
        assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
        assert len(receiver.messages) == 1
        assert "AAPL 2025-11-25 20:59Z close" in receiver.messages[0]["text"]

        # 4. The sensor requests gold for the restated day only; that run rebuilds its gold.
        tick = restated_days_gold(dg.build_sensor_context(instance=instance,
                                                          cursor=str(silver_mark)))
        assert [r.partition_key for r in tick.run_requests] == [RESTATED_DAY]
        gold_run = dg.materialize(assets, resources=resources, instance=instance,
                                  selection=GOLD_FROM_SILVER, partition_key=RESTATED_DAY)
        assert gold_run.success
        assert gold_partitions_since(instance, gold_mark) == [RESTATED_DAY]
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            gold_after = con.execute(
                "select ticker, trade_date::varchar, close from gold.fct_daily_bars order by all"
            ).fetchall()
        differences = sorted(set(gold_after) ^ set(gold_before))
        assert [(t, d) for t, d, _ in differences] == [("AAPL", RESTATED_DAY)] * 2
        assert ("AAPL", RESTATED_DAY, pytest.approx(new_close)) in gold_after

        # A second re-check with nothing new: no rewrite, no restatement, no alert, no gold.
        settled = {d: partition_files(lake, d)
                   for d in ("bars_1m", "bars_1m_quarantine", "restatements")}
        mark = latest_storage_id(instance, SILVER_BARS)
        again = defs.resolve_job_def(RECHECK_JOB).execute_in_process(
            instance=instance, tags=request.tags, run_config=request.run_config)
        assert again.success
        assert not again.asset_materializations_for_node("silver_bars_1m")
        assert {d: partition_files(lake, d) for d in settled} == settled
        assert len(receiver.messages) == 1
        tick = restated_days_gold(dg.build_sensor_context(instance=instance, cursor=str(mark)))
        assert not getattr(tick, "run_requests", None)
