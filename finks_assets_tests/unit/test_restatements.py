"""Restatement detection over bronze's append-only fetches, and the partition comparison that
lets silver and restatements leave unchanged days alone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from finks_assets.defs.bars_1m.restatements import (
    RECHECK_RUN_CONFIG,
    recheck_decision,
    recheck_window,
    restated_gold_requests,
)
from finks_assets.lib.alert_messages import RANGE_END_TAG, RANGE_START_TAG
from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.lake.writer import LakeWriter
from finks_assets.lib.settings import FinksSettings, SettingsError
from finks_assets.lib.sources.synthetic import SyntheticSource
from finks_assets.lib.transforms.bronze_audit import audit_rows, write_bronze
from finks_assets.lib.transforms.partition_diff import held_partition, same_as_held
from finks_assets.lib.transforms.restatements import (
    beyond_tolerance,
    describe,
    detect_restatements,
    empty_restatements,
    new_rows,
)

DAY = dt.date(2025, 11, 25)
LAST_BAR = pd.Timestamp("2025-11-25 20:59", tz="UTC")


def land(store: LakeStore, minutes_after: int, edit=None, tickers=("AAPL", "MSFT")) -> None:
    """One synthetic fetch of DAY written to bronze, fetched ``minutes_after`` the close."""
    source = SyntheticSource()
    fetch = source.fetch_bars_1m(list(tickers), [DAY])
    fetch.fetched_at = pd.Timestamp("2025-11-25 21:00", tz="UTC") + pd.Timedelta(
        minutes=minutes_after)
    if edit is not None:
        edit(fetch.frames)
    _, by_day = audit_rows(fetch, source, [DAY], f"run{minutes_after}")
    write_bronze(LakeWriter(store), fetch, by_day, f"run{minutes_after}")


def test_one_changed_close_is_one_row_with_both_values_and_fetch_times(tmp_path: Path) -> None:
    store = LakeStore.local(str(tmp_path))
    land(store, 5)
    assert detect_restatements(store, SyntheticSource(), DAY).empty  # one fetch: nothing
    land(store, 10)
    assert detect_restatements(store, SyntheticSource(), DAY).empty  # same values: nothing

    def restate(frames):
        frames["AAPL"].loc[frames["AAPL"].index[-1], "close"] += 0.25

    land(store, 15, restate)
    rows = detect_restatements(store, SyntheticSource(), DAY)
    assert len(rows) == 1
    row = rows.iloc[0]
    assert (row["ticker"], row["ts"], row["field"]) == ("AAPL", LAST_BAR, "close")
    assert row["new_value"] == pytest.approx(row["old_value"] + 0.25)
    assert row["rel_change"] == pytest.approx(0.25 / row["old_value"])
    assert row["old_fetched_at"] == pd.Timestamp("2025-11-25 21:10", tz="UTC")
    assert row["new_fetched_at"] == pd.Timestamp("2025-11-25 21:15", tz="UTC")
    assert "AAPL 2025-11-25 20:59Z close" in describe(row)

    # A fourth fetch that changes it back is a second restatement; the first is not forgotten.
    land(store, 20)
    rows = detect_restatements(store, SyntheticSource(), DAY)
    assert rows["new_fetched_at"].dt.strftime("%H:%M").tolist() == ["21:15", "21:20"]


def test_nulls_and_bars_only_one_fetch_holds(tmp_path: Path) -> None:
    store = LakeStore.local(str(tmp_path))

    def partial_with_a_null(frames):  # a fetch during the session: fewer bars, one null
        frames["AAPL"].drop(frames["AAPL"].index[200:], inplace=True)
        frames["AAPL"].loc[10, "volume"] = np.nan
        frames["MSFT"].drop(frames["MSFT"].index[100:], inplace=True)

    land(store, 1, partial_with_a_null)
    land(store, 2, partial_with_a_null)  # NaN again: equal, no row
    assert detect_restatements(store, SyntheticSource(), DAY).empty
    land(store, 3)  # the null filled in; the extra bars are new, not restated
    rows = detect_restatements(store, SyntheticSource(), DAY)
    assert rows[["ticker", "field"]].values.tolist() == [["AAPL", "volume"]]
    assert np.isnan(rows["old_value"].iloc[0]) and np.isnan(rows["rel_change"].iloc[0])
    assert len(beyond_tolerance(rows, 10.0)) == 1  # a filled null is always beyond


def test_tolerance_and_new_rows(tmp_path: Path) -> None:
    rows = pd.DataFrame({
        "ticker": ["A", "B"], "ts": [LAST_BAR, LAST_BAR], "field": ["close", "close"],
        "old_value": [100.0, 100.0], "new_value": [100.001, 101.0],
        "rel_change": [1e-5, 1e-2], "old_fetched_at": [LAST_BAR, LAST_BAR],
        "new_fetched_at": [LAST_BAR, LAST_BAR], "source": ["s", "s"], "trade_date": [DAY, DAY],
    })
    assert beyond_tolerance(rows, 0.0)["ticker"].tolist() == ["A", "B"]
    assert beyond_tolerance(rows, 1e-4)["ticker"].tolist() == ["B"]
    store = LakeStore.local(str(tmp_path))
    writer = LakeWriter(store)
    assert held_partition(store, "silver", "restatements", DAY) is None
    assert not same_as_held(store, "silver", "restatements", DAY, rows)
    writer.write_partitions("silver", "restatements", rows.iloc[:1], [DAY.isoformat()])
    held = held_partition(store, "silver", "restatements", DAY)
    assert new_rows(rows, held)["ticker"].tolist() == ["B"]
    assert new_rows(rows, None)["ticker"].tolist() == ["A", "B"]
    assert same_as_held(store, "silver", "restatements", DAY, rows.iloc[:1])
    assert not same_as_held(store, "silver", "restatements", DAY,
                            rows.iloc[:1].assign(new_value=100.002))
    writer.write_partitions("silver", "restatements", empty_restatements(), ["2025-11-24"])
    assert same_as_held(store, "silver", "restatements", "2025-11-24", empty_restatements())


def test_recheck_schedule_window_and_settings() -> None:
    assert recheck_window(dt.date(2025, 12, 1), 5) == [
        dt.date(2025, 11, d) for d in (24, 25, 26, 28)] + [dt.date(2025, 12, 1)]
    request = recheck_decision(dt.date(2025, 12, 1), 2)
    assert isinstance(request, dg.RunRequest)
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (
        "2025-11-28", "2025-12-01")
    assert request.run_config == RECHECK_RUN_CONFIG
    assert RECHECK_RUN_CONFIG["ops"]["bronze__bars_1m"]["config"] == {"refetch": True}
    assert isinstance(recheck_decision(dt.date(2025, 11, 27), 5), dg.SkipReason)  # Thanksgiving
    assert isinstance(recheck_decision(dt.date(2025, 12, 1), 0), dg.SkipReason)  # off
    settings = FinksSettings.from_env({"FINKS_RESTATEMENT_LOOKBACK_SESSIONS": "3",
                                       "FINKS_RESTATEMENT_TOLERANCE": "0.001"})
    assert (settings.restatement_lookback_sessions, settings.restatement_tolerance) == (3, 0.001)
    assert FinksSettings.from_env({}).restatement_lookback_sessions == 5
    with pytest.raises(SettingsError, match="FINKS_RESTATEMENT_TOLERANCE"):
        FinksSettings.from_env({"FINKS_RESTATEMENT_TOLERANCE": "-1"})


def test_the_gold_sensor_requests_only_days_the_recheck_changed() -> None:
    with dg.instance_for_test() as instance:
        assert isinstance(restated_gold_requests(instance, None), dg.SkipReason)
        for day, changed in (("2025-11-24", False), ("2025-11-25", True), ("2025-11-26", None)):
            metadata = {} if changed is None else {"changed_on_recheck": changed}
            instance.report_runless_asset_event(dg.AssetMaterialization(
                asset_key=["silver", "bars_1m"], partition=day, metadata=metadata))
        result = restated_gold_requests(instance, None)
        assert [r.partition_key for r in result.run_requests] == ["2025-11-25"]
        assert isinstance(restated_gold_requests(instance, result.cursor), dg.SkipReason)
