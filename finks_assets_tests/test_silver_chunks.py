"""Silver built chunk by chunk gives the same lake and the same gate as one pass over the window.

One bronze lake (synthetic bars, Thanksgiving week plus the days before it) is copied once per
chunk size, and the real silver asset is materialized over the whole window with
``sessions_per_chunk`` 1, 2 and 21 (one chunk). The bronze holds a day that fails blocking
checks (the leaky transform of ``test_quality_gate`` lets bad bars through on BAD_DAY), a
properly quarantined bar on another day, and a thin last day that only the row-count check,
reading the earlier days as history, can flag.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Sequence
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finks_assets.assets import silver as silver_module
from finks_assets.assets.bronze import bronze_bars_1m
from finks_assets.assets.silver_chunks import ChunkedPartitionWriter, chunks_of
from finks_assets.automation.alert_messages import RANGE_END_TAG, RANGE_START_TAG
from finks_assets.checks.base import CheckOutcome, outcome
from finks_assets.checks.suite import BAR_CHECKS, run_bar_checks
from finks_assets.lake.store import LakeStore
from finks_assets.quality.gate_merge import compact_outcome, merge_outcomes
from finks_assets.quality.thresholds import BarQualityThresholds
from finks_assets.resources.factory import build_resources
from finks_assets.settings import FinksSettings
from finks_assets.sources.base import BarFetch
from finks_assets.transforms.silver_bars import clean_bars, empty_canonical
from finks_assets_tests.test_pipeline_end_to_end import (
    BAD_DAY,
    FaultyMarketData,
    FaultySyntheticSource,
)
from finks_assets_tests.test_quality_gate import leaky_clean_bars

FIRST, LAST = "2025-11-19", "2025-11-28"  # 8 partitions: Thu 27 is a holiday, Fri 28 a half day
QUARANTINED_DAY = dt.date(2025, 11, 21)
THIN_DAY = dt.date(2025, 11, 28)
CHUNK_SIZES = (1, 2, 21)
BLOCKING_ON_BAD_DAY = ["ohlc_invariants", "non_negative_volume", "bars_in_session"]


class ChunkTestSource(FaultySyntheticSource):
    """The faulty week, plus a negative volume on QUARANTINED_DAY and a third of AAPL on THIN_DAY."""

    def fetch_bars_1m(self, tickers: Sequence[str], days: Sequence[dt.date]) -> BarFetch:
        fetch = super().fetch_bars_1m(tickers, days)
        msft = fetch.frames["MSFT"]
        first_bar = msft.index[msft["ts"].dt.date == QUARANTINED_DAY][0]
        msft.loc[first_bar, "volume"] = -5
        aapl = fetch.frames["AAPL"]
        thin = aapl.index[aapl["ts"].dt.date == THIN_DAY]
        fetch.frames["AAPL"] = aapl.drop(thin[len(thin) // 3:])
        return fetch


class ChunkTestMarketData(FaultyMarketData):
    def bar_source(self) -> ChunkTestSource:
        return ChunkTestSource(seed=self.synthetic_seed)


def _settings(data_dir: Path) -> FinksSettings:
    return FinksSettings.from_env({"FINKS_DATA_DIR": str(data_dir), "FINKS_UNIVERSE": "AAPL,MSFT"})


def _materialize(assets: list, data_dir: Path, run_config: dict | None = None,
                 instance: dg.DagsterInstance | None = None) -> dg.ExecuteInProcessResult:
    resources = {**build_resources(_settings(data_dir)), "market_data": ChunkTestMarketData()}
    return dg.materialize(assets, resources=resources, run_config=run_config, instance=instance,
                          tags={RANGE_START_TAG: FIRST, RANGE_END_TAG: LAST}, raise_on_error=False)


def _partitions(lake: Path, dataset: str) -> dict[str, object]:
    """``{trade_date: table}`` of a silver dataset; each partition must be exactly one file."""
    tables = {}
    for directory in sorted((lake / "silver" / dataset).iterdir()):
        files = sorted(p.name for p in directory.iterdir())
        assert files == ["part-0.parquet"], (directory, files)
        tables[directory.name.removeprefix("trade_date=")] = pq.read_table(directory / files[0])
    return tables


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict]:
    """Bronze once, then silver over the same bronze copy with each chunk size."""
    root = tmp_path_factory.mktemp("silver-chunks")
    bronze_dir = root / "bronze-only"
    assert _materialize([bronze_bars_1m], bronze_dir).success
    observed = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(silver_module, "clean_bars", leaky_clean_bars(BAD_DAY))
        for size in CHUNK_SIZES:
            data_dir = root / f"chunk-{size}"
            shutil.copytree(bronze_dir, data_dir)
            with dg.DagsterInstance.ephemeral() as instance:
                result = _materialize(
                    [silver_module.silver_bars_1m], data_dir, instance=instance,
                    run_config={"ops": {"silver_bars_1m": {"config": {"sessions_per_chunk": size}}}},
                )
                logs = [e.user_message for e in instance.all_logs(result.run_id)]
            lake = _settings(data_dir).lake_root
            observed[size] = {
                "result": result,
                "logs": logs,
                "lake": lake,
                "bars": _partitions(lake, "bars_1m"),
                "quarantine": _partitions(lake, "bars_1m_quarantine"),
                "checks": {c.check_name: c for c in result.get_asset_check_evaluations()},
                "outputs": {m.asset_key.to_user_string(): m.materialization.metadata
                            for m in result.get_asset_materialization_events()},
            }
    return observed


@pytest.mark.parametrize("size", [1, 2])
def test_chunked_runs_write_the_same_partitions_as_one_pass(runs: dict, size: int) -> None:
    for dataset in ("bars", "quarantine"):
        chunked, whole = runs[size][dataset], runs[21][dataset]
        assert list(chunked) == list(whole)
        assert len(whole) == 8
        for day, table in whole.items():
            assert chunked[day].schema.equals(table.schema, check_metadata=True), (dataset, day)
            assert chunked[day].equals(table), (dataset, day)  # same rows in the same order
    assert runs[21]["bars"]["2025-11-27"].num_rows == 0  # holiday: an empty file, typed
    assert runs[21]["quarantine"][QUARANTINED_DAY.isoformat()].num_rows == 1
    assert runs[21]["bars"]["2025-11-25"].num_rows > 2 * 390  # the leaked bad bars are in


@pytest.mark.parametrize("size", [1, 2])
def test_chunked_runs_give_the_same_checks_and_held_partitions(runs: dict, size: int) -> None:
    def summary(checks: dict) -> dict:
        return {name: (c.passed, c.metadata["failing_rows"].value,
                       c.metadata["failing_trade_dates"].data, c.metadata["failing_tickers"].data)
                for name, c in checks.items()}

    assert summary(runs[size]["checks"]) == summary(runs[21]["checks"])
    for run in (runs[size], runs[21]):
        checks = run["checks"]
        assert {name for name, c in checks.items() if not c.passed} == {
            *BLOCKING_ON_BAD_DAY, "row_count_anomaly", "intraday_gaps"}
        # The thin day is judged against the days before it, which a chunk size of 1 only
        # sees because earlier chunks are already in the lake when it is checked.
        assert checks["row_count_anomaly"].metadata["failing_trade_dates"].data == [
            THIN_DAY.isoformat()]
        for name in BLOCKING_ON_BAD_DAY:
            assert checks[name].metadata["held_partitions"].data == {
                BAD_DAY.isoformat(): BLOCKING_ON_BAD_DAY}
    keys = ("rows", "partitions_written", "empty_partitions", "bronze_rows", "tickers",
            "superseded_rows", "held_partitions", "by_reason")
    for asset, metadata in runs[21]["outputs"].items():
        chunked = runs[size]["outputs"][asset]
        assert {k: chunked[k] for k in keys if k in metadata} == {
            k: metadata[k] for k in keys if k in metadata}
    assert runs[size]["outputs"]["silver/bars_1m_quarantine"]["by_reason"].data == {
        "negative_volume": 1}


def test_a_failing_chunk_holds_only_its_failing_day(runs: dict) -> None:
    """Chunks of 2: BAD_DAY (Tue 25) shares a chunk with Wed 26, which is still released."""
    assert chunks_of([dt.date.fromisoformat(d) for d in runs[2]["bars"]], 2)[2] == [
        BAD_DAY, dt.date(2025, 11, 26)]
    check = runs[2]["checks"]["ohlc_invariants"]
    assert not check.passed
    assert check.metadata["held_partitions"].data == {BAD_DAY.isoformat(): BLOCKING_ON_BAD_DAY}
    assert check.metadata["releasable_ranges"].data == [
        ["2025-11-19", "2025-11-24"], ["2025-11-26", "2025-11-28"]]
    reports = runs[2]["lake"] / "reports" / "silver" / "bars_1m"
    assert "FAILED: gold is not built" in (
        reports / f"trade_date={BAD_DAY}" / "report.html").read_text()
    for day in ("2025-11-24", "2025-11-26"):
        assert "Quality gate: <b>passed</b>" in (reports / f"trade_date={day}" / "report.html").read_text()
    summary = runs[2]["outputs"]["silver/bars_1m"]["quality_summary"].value
    assert summary.count("| 2025-11-") == 8 and summary.count("| trade_date |") == 1
    assert runs[2]["outputs"]["silver/bars_1m"]["quality_report"].value.endswith(
        "trade_date=2025-11-28/report.html")


def test_each_chunk_logs_its_progress(runs: dict) -> None:
    progress = [m for m in runs[2]["logs"] if m.startswith("silver chunk ")]
    assert [m.split()[2] for m in progress] == ["1/4", "2/4", "3/4", "4/4"]
    assert "2025-11-25..2025-11-26 (2 days)" in progress[2] and "held ['2025-11-25']" in progress[2]


def test_an_all_empty_first_chunk_takes_the_schema_of_a_later_chunk(tmp_path: Path) -> None:
    """A holiday-only chunk would type text columns as null; its file waits for real types."""
    store = LakeStore.local(str(tmp_path))
    writer = ChunkedPartitionWriter(store, "silver", "demo")
    empty = pd.DataFrame({"ticker": pd.Series([], dtype=object), "close": pd.Series([], dtype=float),
                          "trade_date": pd.Series([], dtype=object)})
    writer.write(empty, ["2025-11-27"])
    assert not (tmp_path / "silver").exists()  # nothing written yet: the schema is unknown
    day = dt.date(2025, 11, 28)
    writer.write(pd.DataFrame({"ticker": ["AAPL"], "close": [1.0], "trade_date": [day]}),
                 ["2025-11-28"])
    written = writer.finish()
    assert written.rows == {"2025-11-28": 1, "2025-11-27": 0}
    holiday = pq.read_table(tmp_path / "silver/demo/trade_date=2025-11-27/part-0.parquet")
    assert holiday.num_rows == 0 and holiday.schema.equals(written.schema)
    ticker_type = holiday.schema.field("ticker").type
    assert pa.types.is_string(ticker_type) or pa.types.is_large_string(ticker_type)


def test_compacted_and_merged_outcomes_keep_every_failing_day_and_ticker() -> None:
    days = [dt.date(2025, 11, d) for d in (24, 25, 26)]
    tickers = [f"T{i:03d}" for i in range(60)]
    rows = pd.DataFrame([{"ticker": t, "trade_date": d, "ts": i}
                         for d in days for i, t in enumerate(tickers)])
    first = outcome(rows[rows["trade_date"] != days[2]], ["ticker", "ts"], stale_runs=3,
                    max_stale_bars=15)
    second = outcome(rows[rows["trade_date"] == days[2]], ["ticker", "ts"], stale_runs=2,
                     max_stale_bars=15)
    compact = compact_outcome(first)
    assert len(compact.offenders) < len(first.offenders)
    assert compact.failing_dates == first.failing_dates
    assert compact.offending_tickers() == first.offending_tickers()
    merged = merge_outcomes([compact, compact_outcome(second)])
    assert not merged.passed and merged.failing_rows == len(rows)
    assert merged.failing_dates == set(days)
    assert merged.metadata["failing_rows"] == len(rows) and merged.metadata["stale_runs"] == 5
    assert merged.metadata["max_stale_bars"] == 15
    assert merged.metadata["failing_tickers"] == tickers[:50]
    assert merged.metadata["failing_trade_dates"] == [d.isoformat() for d in days]
    assert len(merged.metadata["sample"]) == 20
    clean = CheckOutcome(passed=True, failing_rows=0)
    assert merge_outcomes([clean, clean]).passed


def test_a_holiday_only_chunk_without_silver_history_passes_its_checks() -> None:
    """Chunks of 1 put Thanksgiving alone in a chunk; in a fresh lake it has no history either."""
    holiday = [dt.date(2025, 11, 27)]
    silver = clean_bars(empty_canonical(), holiday)
    no_history = pd.DataFrame(columns=["ticker", "trade_date", "bars"])
    outcomes = run_bar_checks(silver.bars, holiday, no_history, BarQualityThresholds())
    assert set(outcomes) == {c.name for c in BAR_CHECKS}
    assert all(o.passed for o in outcomes.values())
