"""Silver skips bronze fetches a newer complete fetch replaces, and the result does not change.

The rule itself is tested on hand-built audit records (each way it must refuse to skip). The
lake test materializes the real bronze asset four times over two days (a re-loaded window),
with a misaligned bar in the first fetch and a partial last fetch, then compares what silver
reads and produces with skipping against reading every file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
import pytest

from finks_assets.defs.bars_1m.bronze import bronze_bars_1m
from finks_assets.lib import market_calendar
from finks_assets.lib.alert_messages import RANGE_END_TAG, RANGE_START_TAG
from finks_assets.lib.lake.layout import bronze_partition_dir
from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.resources.factory import build_resources
from finks_assets.lib.resources.market_data import MarketDataResource
from finks_assets.lib.settings import FinksSettings
from finks_assets.lib.sources.base import BarFetch
from finks_assets.lib.sources.synthetic import SyntheticSource
from finks_assets.lib.transforms.bronze_audit import BARS_DATASET
from finks_assets.lib.transforms.bronze_reader import read_bronze
from finks_assets.lib.transforms.silver_bars import canonical_from_bronze, clean_bars
from finks_assets.lib.transforms.superseded_fetches import superseded_fetches

DAY_1, DAY_2 = dt.date(2025, 11, 20), dt.date(2025, 11, 21)
SESSION = market_calendar.session(DAY_1)
OPEN = SESSION.open_utc
LAST_MINUTE = SESSION.close_utc - pd.Timedelta(minutes=1)


def _record(fetch: str, ticker: str, at: int, *, rows: int = 390, aligned: int = 390,
            first: pd.Timestamp = OPEN, last: pd.Timestamp = LAST_MINUTE,
            status: str = "ok") -> dict:
    return {"fetch": fetch, "ticker": ticker, "status": status, "rows_received": rows,
            "duplicate_rows": 0, "aligned_minutes": aligned, "first_ts": first, "last_ts": last,
            "fetched_at": pd.Timestamp("2025-11-22", tz="UTC") + pd.Timedelta(minutes=at)}


def _skipped(records: list[dict], present: set[str] | None = None) -> tuple[set[str], int]:
    audit = pd.DataFrame(records)
    found = superseded_fetches(audit, SESSION, present or set(audit["fetch"]))
    return set(found.names), found.rows


def test_older_complete_fetches_are_skipped_and_their_rows_counted() -> None:
    records = [_record(f"f{i}", t, at=i) for i in range(3) for t in ("AAPL", "MSFT")]
    assert _skipped(records) == ({"f0", "f1"}, 4 * 390)


def test_an_older_partial_fetch_on_the_grid_is_skipped() -> None:
    records = [_record("f0", "AAPL", 0, rows=100, aligned=100, last=OPEN + pd.Timedelta(minutes=99)),
               _record("f1", "AAPL", 1)]
    assert _skipped(records) == ({"f0"}, 100)


@pytest.mark.parametrize("off_grid", [
    {"aligned": 389},  # a misaligned bar has no newer copy: it must reach quarantine
    {"first": OPEN - pd.Timedelta(minutes=1)},  # a pre-market bar: out_of_session
    {"last": SESSION.close_utc},  # the close minute itself is out of session
])
def test_an_older_fetch_with_rows_off_the_grid_is_read(off_grid: dict) -> None:
    records = [_record("f0", "AAPL", 0, **off_grid), _record("f1", "AAPL", 1)]
    assert _skipped(records) == (set(), 0)


def test_an_older_fetch_with_duplicate_rows_is_read() -> None:
    """Silver counts a payload's conflicting duplicates; skipping the fetch would hide them."""
    records = [{**_record("f0", "AAPL", 0, rows=391), "duplicate_rows": 1},
               _record("f1", "AAPL", 1)]
    assert _skipped(records) == (set(), 0)


def test_only_a_complete_newer_fetch_replaces() -> None:
    partial_newest = [_record("f0", "AAPL", 0), _record("f1", "AAPL", 1), _record(
        "f2", "AAPL", 2, rows=200, aligned=200, last=OPEN + pd.Timedelta(minutes=199))]
    assert _skipped(partial_newest) == ({"f0"}, 390)  # f1 is the newest complete one
    same_time = [_record("f0", "AAPL", 0), _record("f1", "AAPL", 0)]
    assert _skipped(same_time) == (set(), 0)
    newest_missing_on_disk = [_record("f0", "AAPL", 0), _record("f1", "AAPL", 1)]
    assert _skipped(newest_missing_on_disk, present={"f0"}) == (set(), 0)


def test_a_fetch_is_read_when_one_of_its_tickers_has_no_newer_copy() -> None:
    records = [_record("f0", "AAPL", 0), _record("f0", "MSFT", 0), _record("f1", "AAPL", 1),
               _record("f1", "MSFT", 1, status="error", rows=0, aligned=0)]
    assert _skipped(records) == (set(), 0)


def test_audits_written_before_aligned_minutes_existed_skip_nothing() -> None:
    audit = pd.DataFrame([_record("f0", "AAPL", 0), _record("f1", "AAPL", 1)])
    assert not superseded_fetches(audit.drop(columns="aligned_minutes"), SESSION, {"f0", "f1"}).names
    assert not superseded_fetches(audit, None, {"f0", "f1"}).names  # a market-closed day


class ReloadSource(SyntheticSource):
    """Synthetic bars; ``variant`` "misaligned" shifts MSFT's 10th bar of DAY_1 by 30 s,
    "partial" drops the second half of AAPL's DAY_2."""

    def __init__(self, seed: int, variant: str) -> None:
        super().__init__(seed=seed)
        self.variant = variant

    def fetch_bars_1m(self, tickers: Sequence[str], days: Sequence[dt.date]) -> BarFetch:
        fetch = super().fetch_bars_1m(tickers, days)
        if self.variant == "misaligned":
            msft = fetch.frames["MSFT"]
            row = msft.index[msft["ts"].dt.date == DAY_1][10]
            msft.loc[row, "ts"] = msft.loc[row, "ts"] + pd.Timedelta(seconds=30)
        if self.variant == "partial":
            aapl = fetch.frames["AAPL"]
            on_day = aapl.index[aapl["ts"].dt.date == DAY_2]
            fetch.frames["AAPL"] = aapl.drop(on_day[len(on_day) // 2:])
        return fetch


class ReloadMarketData(MarketDataResource):
    variant: str = ""

    def bar_source(self) -> ReloadSource:
        return ReloadSource(seed=self.synthetic_seed, variant=self.variant)


def _every_file(store: LakeStore, source: ReloadSource, days: list[dt.date]) -> pd.DataFrame:
    """What silver read before skipping existed: every bronze file of every day."""
    tables, file_days = [], []
    for day in days:
        for path in store.list_parquet(bronze_partition_dir(source.name, BARS_DATASET, day)):
            tables.append(pq.read_table(path))
            file_days.append(day)
    return canonical_from_bronze(source, tables, file_days)


def test_skipping_leaves_silver_quarantine_and_counts_unchanged(tmp_path: Path) -> None:
    settings = FinksSettings.from_env({"FINKS_DATA_DIR": str(tmp_path / "finks"),
                                       "FINKS_UNIVERSE": "AAPL,MSFT"})
    for variant in ("misaligned", "", "", "partial"):
        result = dg.materialize(
            [bronze_bars_1m],
            resources={**build_resources(settings), "market_data": ReloadMarketData(variant=variant)},
            tags={RANGE_START_TAG: DAY_1.isoformat(), RANGE_END_TAG: DAY_2.isoformat()},
            run_config={"ops": {"bronze__bars_1m": {"config": {"refetch": True}}}},  # re-loads
        )
        assert result.success
    store = LakeStore.local(str(tmp_path / "finks" / "lake"))
    source, days = ReloadSource(seed=7, variant=""), [DAY_1, DAY_2]

    bronze = read_bronze(store, source, days)
    read, unread = bronze.bars, bronze.unread_rows
    everything = _every_file(store, source, days)
    # DAY_1: the first fetch (a misaligned MSFT bar) and the last are read, the two between not.
    # DAY_2: the last fetch is partial for AAPL, so the third is read too; the first two are not.
    assert unread == 2 * (2 * 2 * 390)
    assert len(read) + unread == len(everything) == 4 * 2 * 2 * 390 - 390 // 2

    skipping, reading_all = clean_bars(read, days), clean_bars(everything, days)
    pd.testing.assert_frame_equal(skipping.bars, reading_all.bars)
    pd.testing.assert_frame_equal(skipping.quarantine, reading_all.quarantine)
    assert skipping.superseded + unread == reading_all.superseded
    assert skipping.quarantine_counts() == {"misaligned_minute": 1}
    assert len(skipping.bars) == 2 * 2 * 390  # the later fetches supply the shifted minute
