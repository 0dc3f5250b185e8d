"""Duplicates inside one payload: the later row wins, whatever order DuckDB scans them in, and a
copy with different values is counted and sampled as a conflicting duplicate."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from finks_assets.lib.lake.layout import bronze_partition_dir
from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.quality.report import build_partition_reports, render_html
from finks_assets.lib.quality.suite import BAR_CHECKS, run_bar_checks
from finks_assets.lib.quality.thresholds import BarQualityThresholds
from finks_assets.lib.sources.synthetic import SyntheticSource
from finks_assets.lib.transforms.bronze_audit import BARS_DATASET
from finks_assets.lib.transforms.bronze_reader import read_bronze
from finks_assets.lib.transforms.silver_bars import clean_bars

DAY = dt.date(2025, 11, 25)
OPEN = pd.Timestamp("2025-11-25 14:30", tz="UTC")
FETCH = pd.Timestamp("2025-11-25 22:00", tz="UTC")
REFETCH = pd.Timestamp("2025-11-26 01:00", tz="UTC")
KEYS = 60


def bar(minute: int, **overrides) -> dict:
    row = {"ticker": "AAPL", "ts": OPEN + pd.Timedelta(minutes=minute), "open": 100.0,
           "high": 101.0, "low": 99.0, "close": 100.5, "volume": 1000.0, "source": "synthetic",
           "ingested_at": FETCH, "trade_date": DAY}
    return {**row, **overrides}


def payload_with_duplicates() -> pd.DataFrame:
    """One payload: for every minute an early copy that is wrong (high below close) and a
    later copy that is right, plus one more minute sent twice identically."""
    rows = [bar(m, high=50.0) for m in range(KEYS)] + [bar(m) for m in range(KEYS)]
    rows += [bar(KEYS), bar(KEYS)]
    frame = pd.DataFrame(rows)
    return frame.assign(payload=0, payload_row=range(len(frame)))


def test_the_later_row_of_a_payload_wins_whatever_the_scan_order() -> None:
    payload = payload_with_duplicates()
    outcomes = set()
    for seed in range(30):
        result = clean_bars(payload.sample(frac=1.0, random_state=seed), [DAY])
        outcomes.add((len(result.bars), len(result.quarantine), result.superseded,
                      result.conflicting_duplicates.total))
        assert result.quarantine.empty
        assert (result.bars["high"] == 101.0).all()
    assert outcomes == {(KEYS + 1, 0, KEYS + 1, KEYS)}


def test_without_payload_columns_rows_of_one_fetch_count_in_frame_order() -> None:
    result = clean_bars(pd.DataFrame([bar(0, close=100.25), bar(0)]), [DAY])
    assert result.bars["close"].tolist() == [100.5]
    assert result.conflicting_duplicates.counts == {DAY: 1}


def test_exact_copies_and_refetches_are_superseded_not_conflicting() -> None:
    rows = [bar(0), bar(0), bar(1, close=100.75, high=101.0), bar(1, ingested_at=REFETCH)]
    result = clean_bars(pd.DataFrame(rows), [DAY])
    assert result.superseded == 2
    assert result.conflicting_duplicates.total == 0
    assert result.bars["close"].tolist() == [100.5, 100.5]  # the refetch won minute 1


def test_a_later_payload_of_the_same_fetch_time_wins() -> None:
    rows = pd.DataFrame([bar(0, close=100.25), bar(0)]).assign(payload=[1, 0], payload_row=0)
    result = clean_bars(rows, [DAY])
    assert result.bars["close"].tolist() == [100.25]
    assert result.conflicting_duplicates.total == 0  # two files: not one payload contradicting itself


def test_conflicts_are_sampled_with_the_discarded_and_kept_values() -> None:
    result = clean_bars(payload_with_duplicates(), [DAY])
    count, sample = result.conflicting_duplicates.on(DAY)
    assert count == KEYS and len(sample) == 20
    first = sample.iloc[0]
    assert (first["ticker"], first["ts"], first["high"], first["kept_high"]) == (
        "AAPL", OPEN, 50.0, 101.0)
    metadata = result.outcome_metadata(DAY)
    assert metadata["conflicting_duplicates"] == KEYS
    assert metadata["conflicting_duplicates_sample"][0]["high"] == 50.0
    assert metadata["rejected_files"] == []


def test_the_report_shows_the_conflicting_duplicates() -> None:
    result = clean_bars(payload_with_duplicates(), [DAY])
    outcomes = run_bar_checks(result.bars, [DAY], pd.DataFrame(), BarQualityThresholds())
    report = build_partition_reports([DAY], result.bars, result.quarantine, outcomes, BAR_CHECKS,
                                    conflicts=result.conflicting_duplicates)[0]
    assert report.conflicting_duplicates == KEYS
    page = render_html(report, "silver/bars_1m")
    section = page.split("<h2>Conflicting duplicates</h2>", 1)[1].split("<h2>", 1)[0]
    assert f"{KEYS} row(s) replaced by a later row of the same payload" in section
    assert "kept_high" in section and "50.0" in section


def test_read_from_a_bronze_file_the_later_row_wins(tmp_path: Path) -> None:
    """The payload order survives the real read path (Parquet -> Arrow -> canonical)."""
    source = SyntheticSource(seed=7)
    raw = source.fetch_bars_1m(["AAPL"], [DAY]).frames["AAPL"].assign(_ticker="AAPL")
    wrong = raw.assign(close=raw["close"] + 0.5, high=raw["high"] + 0.5)
    frame = pd.concat([wrong, raw], ignore_index=True).assign(_fetched_at=FETCH)
    store = LakeStore.local(str(tmp_path / "lake"))
    path = Path(store.path(f"{bronze_partition_dir('synthetic', BARS_DATASET, DAY)}/f.parquet"))
    path.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    result = clean_bars(read_bronze(store, source, [DAY]).bars, [DAY])
    assert result.bars["close"].tolist() == raw["close"].tolist()
    assert result.conflicting_duplicates.total == len(raw) == result.superseded
