"""Cleaning a run's window in batches of days gives exactly the rows of cleaning it at once.

The silver asset reads and cleans its window a batch of days at a time to bound its memory
(``lib/transforms/bronze_batches.py``). That is only right if no silver rule crosses a day, so
the lake here holds what could make one do so: two fetches per day (superseded rows), a
payload that contradicts itself (conflicting duplicates), a landed file misfiled under the
wrong day (refused rows whose timestamps belong to another day of the window), a bad print,
and a landed file that cannot be read (rejected whole). Every batch size must give the result
of the one-pass read.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pandas.testing as pdt
import pytest

from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.transforms.bronze_batches import bronze_batches
from finks_assets.lib.transforms.bronze_reader import read_bronze
from finks_assets.lib.transforms.silver_bars import SilverResult, clean_read
from finks_assets_tests.unit.test_landing_contract import (
    SOURCE,
    T1,
    T2,
    T3,
    land,
    own_fetch,
    vendor_rows,
)

DAYS = [dt.date(2025, 11, 24), dt.date(2025, 11, 25), dt.date(2025, 11, 26)]
TICKERS = ["AAPL", "MSFT", "JPM"]


@pytest.fixture
def store(tmp_path: Path) -> LakeStore:
    store = LakeStore.local(str(tmp_path / "lake"))
    for day in DAYS:
        first = vendor_rows(TICKERS, day, T1)
        if day == DAYS[0]:  # the payload sends one AAPL bar twice, the second time changed
            changed = first.iloc[[5]].assign(close=lambda f: f["close"] + 0.5,
                                             high=lambda f: f["high"] + 0.5)
            first = pd.concat([first, changed], ignore_index=True)
        own_fetch(store, first, day, T1)
        # a later fetch of MSFT replaces the first fetch's MSFT bars
        own_fetch(store, vendor_rows(["MSFT"], day, T3).assign(close=lambda f: f["close"] + 0.01,
                                                                high=lambda f: f["high"] + 0.01),
                  day, T3)
    # a spike that reverts at the next bar: a bad print on the last day
    spiked = vendor_rows(["JPM"], DAYS[2], T2)
    spiked.loc[100, ["close", "high"]] = spiked.loc[100, "close"] * 3
    land(store, spiked, DAYS[2], name="spike")
    # the first day's JPM bars misfiled under the second day: refused as wrong_partition
    land(store, vendor_rows(["JPM"], DAYS[0], T2), DAYS[1], name="misfiled")
    land(store, b"PAR1 not parquet", DAYS[1], name="unreadable")
    return store


def at_once(store: LakeStore) -> SilverResult:
    return clean_read(read_bronze(store, SOURCE, DAYS), DAYS)


def in_batches(store: LakeStore, max_rows: int) -> tuple[SilverResult, list[list[dt.date]]]:
    parts, batches = [], []
    for batch in bronze_batches(store, SOURCE, DAYS, max_rows=max_rows):
        parts.append(clean_read(batch.read, batch.days))
        batches.append(batch.days)
    return SilverResult.of_batches(parts), batches


@pytest.mark.parametrize(("max_rows", "expected_batches"), [
    (1, [[DAYS[0]], [DAYS[1]], [DAYS[2]]]),  # a day is never split, however small the budget
    (2_000, [DAYS[:2], DAYS[2:]]),  # day 1 holds 1,561 rows, days 1-2 ~3,500: a batch of two
    (10**9, [DAYS]),
])
def test_batches_give_the_rows_of_one_pass(store: LakeStore, max_rows: int,
                                           expected_batches: list[list[dt.date]]) -> None:
    expected = at_once(store)
    # The lake holds every case this test is about.
    assert expected.quarantine_counts() == {"bad_print": 1, "wrong_partition": 390}
    # MSFT's first fetch of each day, JPM's own fetch of the last day (the landed file is
    # newer), the contradicted row
    assert expected.superseded == 3 * 390 + 390 + 1
    assert expected.conflicting_duplicates.counts == {DAYS[0]: 1}
    assert expected.rejected_files["reason"].tolist() == ["unreadable_file"]

    result, batches = in_batches(store, max_rows)
    assert batches == expected_batches
    pdt.assert_frame_equal(result.bars, expected.bars)
    pdt.assert_frame_equal(result.quarantine, expected.quarantine)
    assert result.superseded == expected.superseded
    assert result.conflicting_duplicates.counts == expected.conflicting_duplicates.counts
    pdt.assert_frame_equal(result.conflicting_duplicates.sample,
                           expected.conflicting_duplicates.sample)
    pdt.assert_frame_equal(result.rejected_files, expected.rejected_files)


def test_payloads_keep_one_number_per_file_across_a_batch(store: LakeStore) -> None:
    """Each day numbers its files from 0; in a batch of days they must not collide (read:
    two own fetches a day, plus the misfiled file on day 2 and the spike on day 3)."""
    (batch,) = bronze_batches(store, SOURCE, DAYS, max_rows=10**9)
    files_per_day = batch.read.bars.groupby("trade_date")["payload"].nunique()
    assert batch.read.bars["payload"].nunique() == files_per_day.sum() == 2 + 3 + 3
