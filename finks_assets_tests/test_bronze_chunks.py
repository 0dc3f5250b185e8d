"""The 1-minute bronze step fetches a long range a few sessions at a time (bounded memory).

Chunking must not change what lands: the same raw rows per partition and the same audit
records, whatever ``sessions_per_fetch`` is; holidays are audited exactly once.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from finks_assets.assets.bronze import bronze_bars_1m, fetch_chunks
from finks_assets.automation.alert_messages import RANGE_END_TAG, RANGE_START_TAG
from finks_assets.resources.factory import build_resources
from finks_assets.settings import FinksSettings

FIRST, LAST = "2025-11-19", "2025-12-02"  # Thanksgiving (Thu 27) inside, weekends are not partitions
D = dt.date


def test_fetch_chunks_cut_by_sessions_and_keep_holidays_with_their_neighbours() -> None:
    days = [D(2025, 11, 25), D(2025, 11, 26), D(2025, 11, 27), D(2025, 11, 28), D(2025, 12, 1)]
    sessions = [d for d in days if d != D(2025, 11, 27)]
    assert fetch_chunks(days, sessions, 2) == [
        ([D(2025, 11, 25), D(2025, 11, 26), D(2025, 11, 27)], [D(2025, 11, 25), D(2025, 11, 26)]),
        ([D(2025, 11, 28), D(2025, 12, 1)], [D(2025, 11, 28), D(2025, 12, 1)]),
    ]
    assert fetch_chunks(days, sessions, 21) == [(days, sessions)]
    holiday_only = [D(2025, 11, 27)]
    assert fetch_chunks(holiday_only, [], 1) == [(holiday_only, [])]
    assert fetch_chunks([], [], 3) == [([], [])]
    chunks = fetch_chunks(days, sessions, 1)
    assert [d for chunk_days, _ in chunks for d in chunk_days] == days  # every partition once
    assert all(len(chunk_sessions) == 1 for _, chunk_sessions in chunks)


def _bronze(data_dir: Path, sessions_per_fetch: int) -> tuple[list[tuple], list[tuple]]:
    settings = FinksSettings.from_env(
        {"FINKS_DATA_DIR": str(data_dir), "FINKS_UNIVERSE": "AAPL,MSFT,JPM"})
    result = dg.materialize(
        [bronze_bars_1m], resources=build_resources(settings),
        run_config={"ops": {"bronze__bars_1m": {"config": {"sessions_per_fetch": sessions_per_fetch}}}},
        tags={RANGE_START_TAG: FIRST, RANGE_END_TAG: LAST},
    )
    assert result.success
    lake = data_dir / "lake"
    with duckdb.connect() as con:
        bars = con.execute(
            "select * exclude (_fetched_at, filename) from read_parquet(?, filename = true,"
            " hive_partitioning = true) order by all",
            [str(lake / "bronze/source=synthetic/dataset=bars_1m/*/*.parquet")],
        ).fetchall()
        audit = con.execute(
            "select ticker, trade_date, status, rows_received, duplicate_rows, first_ts, last_ts"
            " from read_parquet(?, hive_partitioning = true) order by all",
            [str(lake / "audit/**/*.parquet")],
        ).fetchall()
    return bars, audit


@pytest.mark.parametrize("sessions_per_fetch", [1, 3])
def test_chunked_fetches_land_the_same_rows_and_audit(tmp_path: Path, sessions_per_fetch: int) -> None:
    whole_bars, whole_audit = _bronze(tmp_path / "whole", 21)
    bars, audit = _bronze(tmp_path / "chunked", sessions_per_fetch)
    assert len(whole_bars) == 3 * 390 * 8 + 3 * 210  # 8 full sessions and the half day, 3 tickers
    assert bars == whole_bars
    assert audit == whole_audit
    assert sum(1 for row in audit if row[2] == "market_closed") == 3  # the holiday, once per ticker
