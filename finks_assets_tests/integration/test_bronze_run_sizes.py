"""Bronze lands the same rows and audit however a backfill is cut into runs.

Dagster cuts a bronze backfill into runs of ``FINKS_PARTITIONS_PER_RUN`` days
(``BackfillPolicy.multi_run``); the cut must not change what lands: the same raw rows per
partition and the same audit records. Holidays are not partitions, so no run fetches or
audits them. Each partition's materialization carries its own day's numbers, not the run's
totals.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from finks_assets.defs.bars_1m.bronze import BRONZE_BARS, bronze_bars_1m
from finks_assets.lib.alert_messages import RANGE_END_TAG, RANGE_START_TAG
from finks_assets.lib.partitions import trading_days
from finks_assets.lib.resources.factory import build_resources
from finks_assets.lib.settings import FinksSettings

FIRST, LAST = "2025-11-19", "2025-12-02"  # Thanksgiving (Thu 27) inside: like weekends, not a partition


def _runs(keys: list[str], per_run: int) -> list[list[str]]:
    """The partition ranges Dagster's multi-run backfill policy would launch."""
    return [keys[i:i + per_run] for i in range(0, len(keys), per_run)]


def _bronze(data_dir: Path, per_run: int, instance: dg.DagsterInstance
            ) -> tuple[list[tuple], list[tuple]]:
    settings = FinksSettings.from_env(
        {"FINKS_DATA_DIR": str(data_dir), "FINKS_UNIVERSE": "AAPL,MSFT,JPM"})
    keys = trading_days.get_partition_keys_in_range(dg.PartitionKeyRange(FIRST, LAST))
    for run in _runs(keys, per_run):
        result = dg.materialize([bronze_bars_1m], resources=build_resources(settings),
                                instance=instance,
                                tags={RANGE_START_TAG: run[0], RANGE_END_TAG: run[-1]})
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


@pytest.mark.parametrize("per_run", [1, 4])
def test_any_run_size_lands_the_same_rows_and_audit(tmp_path: Path, per_run: int) -> None:
    with dg.instance_for_test() as instance:
        whole_bars, whole_audit = _bronze(tmp_path / "whole", 21, instance)
    with dg.instance_for_test() as instance:
        bars, audit = _bronze(tmp_path / "cut", per_run, instance)
        # Every partition's materialization carries its own day's rows.
        for day, rows in (("2025-11-26", 3 * 390), ("2025-11-28", 3 * 210)):
            event = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=BRONZE_BARS, asset_partitions=[day]), limit=1
            ).records[0].asset_materialization
            assert event.metadata["dagster/row_count"].value == rows, day
        assert not instance.fetch_materializations(  # the holiday is no partition at all
            dg.AssetRecordsFilter(asset_key=BRONZE_BARS, asset_partitions=["2025-11-27"]), limit=1
        ).records
    assert len(whole_bars) == 3 * 390 * 8 + 3 * 210  # 8 full sessions and the half day, 3 tickers
    assert bars == whole_bars
    assert audit == whole_audit
    assert "2025-11-27" not in trading_days.get_partition_keys_in_range(
        dg.PartitionKeyRange(FIRST, LAST))
    assert not [row for row in audit if str(row[1]) == "2025-11-27" or row[2] == "market_closed"]
