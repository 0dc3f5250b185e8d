"""Landed payloads pass the same validation as vendor data, before de-duplication.

Each test lays out a local lake by hand: Finks' own bronze fetches (the genuine bars) plus a
file under ``landing/``, then reads and cleans it the way the silver asset does. A landed file
must never remove or override a bar of another session or a later fetch; a bad one is
rejected on its own, with its path and reason, and everything else is processed.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finks_assets.defs.bars_1m.landing_sensor import arrival_requests
from finks_assets.lib.lake.landing import landing_partition_dir
from finks_assets.lib.lake.layout import bronze_partition_dir
from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.sources.synthetic import SyntheticSource
from finks_assets.lib.transforms.bronze_audit import BARS_DATASET
from finks_assets.lib.transforms.bronze_reader import BronzeFileError, read_bronze
from finks_assets.lib.transforms.silver_bars import SilverResult, clean_read

DAY_1, DAY_2 = dt.date(2025, 11, 24), dt.date(2025, 11, 25)
SOURCE = SyntheticSource(seed=7)
T1 = pd.Timestamp("2025-11-25 22:00", tz="UTC")  # Finks' first fetch
T2 = pd.Timestamp("2025-11-26 10:00", tz="UTC")  # a landed file arrives
T3 = pd.Timestamp("2025-11-27 22:00", tz="UTC")  # Finks fetches again


def vendor_rows(tickers: list[str], day: dt.date, fetched_at: pd.Timestamp) -> pd.DataFrame:
    """A bronze-shaped payload: the synthetic vendor's columns plus the lineage columns."""
    fetch = SOURCE.fetch_bars_1m(tickers, [day])
    return pd.concat([fetch.frames[t].assign(_ticker=t) for t in tickers], ignore_index=True
                     ).assign(_fetched_at=fetched_at)


def put(store: LakeStore, directory: str, name: str, frame: pd.DataFrame | bytes,
        arrived: pd.Timestamp | None = None) -> str:
    path = store.path(f"{directory}/{name}.parquet")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if isinstance(frame, bytes):
        Path(path).write_bytes(frame)
    else:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    if arrived is not None:
        os.utime(path, (arrived.timestamp(), arrived.timestamp()))
    return path


def own_fetch(store: LakeStore, frame: pd.DataFrame, day: dt.date, at: pd.Timestamp) -> str:
    name = at.strftime("%Y%m%dT%H%M%S%fZ") + "_test"
    return put(store, bronze_partition_dir(SOURCE.name, BARS_DATASET, day), name, frame)


def land(store: LakeStore, frame: pd.DataFrame | bytes, day: dt.date, name: str = "drop",
         arrived: pd.Timestamp = T2) -> str:
    directory = landing_partition_dir(SOURCE.name, BARS_DATASET, day)
    return put(store, directory, name, frame, arrived)


def silver(store: LakeStore, days: list[dt.date]) -> SilverResult:
    """What the silver asset does with a run's days (read, clean, account, attach rejects)."""
    return clean_read(read_bronze(store, SOURCE, days), days)


@pytest.fixture
def store(tmp_path: Path) -> LakeStore:
    return LakeStore.local(str(tmp_path / "lake"))


@pytest.fixture
def genuine(store: LakeStore) -> dict[dt.date, pd.DataFrame]:
    """Finks' own fetch of AAPL and MSFT for both days, at T1."""
    frames = {day: vendor_rows(["AAPL", "MSFT"], day, T1) for day in (DAY_1, DAY_2)}
    for day, frame in frames.items():
        own_fetch(store, frame, day, T1)
    return frames


def closes(result: SilverResult, day: dt.date, ticker: str) -> list[float]:
    bars = result.bars[(result.bars["ticker"] == ticker)
                       & (pd.to_datetime(result.bars["trade_date"]).dt.date == day)]
    return bars.sort_values("ts")["close"].tolist()


def test_a_misfiled_landed_file_cannot_replace_another_sessions_bars(store, genuine) -> None:
    """DAY_1's AAPL bars, with other prices and a later fetch time, landed under DAY_2."""
    misfiled = vendor_rows(["AAPL"], DAY_1, T3).assign(close=lambda f: f["close"] * 2,
                                                       high=lambda f: f["high"] * 2)
    land(store, misfiled, DAY_2, arrived=T3)
    for days in ([DAY_1, DAY_2], [DAY_2]):
        result = silver(store, days)
        assert result.quarantine_counts() == {"wrong_partition": 390}
        refused = result.quarantine
        assert set(pd.to_datetime(refused["trade_date"]).dt.date) == {DAY_2}
        assert result.superseded == 0
        assert len(result.bars) == 2 * 390 * len(days)
    assert closes(result, DAY_2, "AAPL") == genuine[DAY_2].query("_ticker == 'AAPL'")["close"].tolist()
    both = silver(store, [DAY_1, DAY_2])
    assert closes(both, DAY_1, "AAPL") == genuine[DAY_1].query("_ticker == 'AAPL'")["close"].tolist()


def test_a_future_fetched_at_is_capped_at_the_files_arrival(store, genuine) -> None:
    """A file stamped 2099 outranks only what was fetched before it arrived, never later."""
    doctored = vendor_rows(["AAPL"], DAY_1, pd.Timestamp("2099-01-01", tz="UTC")).assign(
        close=lambda f: f["close"] + 0.01, high=lambda f: f["high"] + 0.01)
    land(store, doctored, DAY_1, arrived=T2)
    before = silver(store, [DAY_1])
    assert closes(before, DAY_1, "AAPL") == doctored["close"].tolist()  # newer than T1: wins
    aapl = before.bars[before.bars["ticker"] == "AAPL"]
    assert set(aapl["ingested_at"]) == {T2}  # its arrival, not 2099

    own_fetch(store, genuine[DAY_1].assign(_fetched_at=T3), DAY_1, T3)  # fetched after arrival
    after = silver(store, [DAY_1])
    assert closes(after, DAY_1, "AAPL") == genuine[DAY_1].query("_ticker == 'AAPL'")["close"].tolist()
    assert set(after.bars["ingested_at"]) == {T3}
    assert after.quarantine.empty


def test_a_landed_file_without_fetched_at_takes_its_arrival_time(store, genuine) -> None:
    land(store, vendor_rows(["AAPL"], DAY_1, T1).drop(columns="_fetched_at"), DAY_1)
    result = silver(store, [DAY_1])
    assert set(result.bars.loc[result.bars["ticker"] == "AAPL", "ingested_at"]) == {T2}
    assert result.rejected_files.empty


def test_tickers_are_validated_against_the_one_pattern(store, genuine) -> None:
    bad = ["../etc", "bad;DROP", '=HYPERLINK("http://x")', "aapl"]
    rows = vendor_rows(["AAPL"], DAY_1, T1).head(3)
    landed = pd.concat([rows.assign(_ticker=t) for t in bad], ignore_index=True)
    land(store, landed, DAY_1)
    result = silver(store, [DAY_1])
    assert set(result.bars["ticker"]) == {"AAPL", "MSFT"}
    assert result.quarantine_counts() == {"invalid_ticker": 3 * len(bad)}
    assert sorted(set(result.quarantine["ticker"])) == sorted(bad)
    assert len(result.bars) == 2 * 390


@pytest.mark.parametrize("naive", ["typed", "text"])
def test_naive_timestamps_are_refused_not_read_as_utc(store, genuine, naive: str) -> None:
    rows = vendor_rows(["NVDA"], DAY_1, T1)
    local = rows["ts"].dt.tz_convert("America/New_York").dt.tz_localize(None)
    rows["ts"] = local if naive == "typed" else local.dt.strftime("%Y-%m-%d %H:%M:%S")
    path = land(store, rows, DAY_1)
    result = silver(store, [DAY_1])
    assert result.rejected_files[["path", "reason"]].values.tolist() == [[path, "naive_timestamp"]]
    assert "ts" in result.rejected_files["detail"].iloc[0]
    assert "NVDA" not in set(result.bars["ticker"]) and result.quarantine.empty
    assert len(result.bars) == 2 * 390  # the rest of the day is processed


def test_text_timestamps_with_an_offset_are_accepted(store, genuine) -> None:
    rows = vendor_rows(["NVDA"], DAY_1, T1)
    rows["ts"] = rows["ts"].dt.tz_convert("America/New_York").dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    land(store, rows, DAY_1)
    result = silver(store, [DAY_1])
    assert result.rejected_files.empty
    assert len(result.bars[result.bars["ticker"] == "NVDA"]) == 390


def _missing_close() -> pd.DataFrame:
    return vendor_rows(["NVDA"], DAY_1, T1).drop(columns="close")


def _text_prices() -> pd.DataFrame:
    return vendor_rows(["NVDA"], DAY_1, T1).assign(close="abc")


def _no_ticker() -> pd.DataFrame:
    return vendor_rows(["NVDA"], DAY_1, T1).drop(columns="_ticker")


@pytest.mark.parametrize(("make", "reason"), [
    (lambda: b"PAR1 this is not parquet", "unreadable_file"),
    (_missing_close, "missing_columns"),
    (_no_ticker, "missing_columns"),
    (_text_prices, "wrong_types"),
])
def test_one_bad_file_is_rejected_and_the_rest_of_the_day_processed(
    store, genuine, caplog, make, reason: str
) -> None:
    good = land(store, vendor_rows(["JPM"], DAY_1, T1), DAY_1, name="a-good")
    bad = land(store, make(), DAY_1, name="b-bad")
    with caplog.at_level(logging.WARNING, logger="finks"):
        result = silver(store, [DAY_1])
    assert result.rejected_files[["path", "reason"]].values.tolist() == [[bad, reason]]
    assert pd.to_datetime(result.rejected_files["trade_date"]).dt.date.tolist() == [DAY_1]
    assert sorted(set(result.bars["ticker"])) == ["AAPL", "JPM", "MSFT"]
    assert len(result.bars) == 3 * 390 and result.quarantine.empty
    assert bad in caplog.text and reason in caplog.text  # named in the log
    assert Path(bad).exists() and Path(good).exists()  # nothing is deleted
    metadata = result.outcome_metadata(DAY_1)
    assert [(r["path"], r["reason"]) for r in metadata["rejected_files"]] == [(bad, reason)]


def test_an_unreadable_fetch_of_finks_own_stops_the_run_and_names_the_file(store, genuine) -> None:
    path = own_fetch(store, vendor_rows(["JPM"], DAY_1, T3).drop(columns="close"), DAY_1, T3)
    with pytest.raises(BronzeFileError, match=path):
        read_bronze(store, SOURCE, [DAY_1])


class _Paginator:
    def __init__(self, keys: list[str]) -> None:
        self.keys = keys

    def paginate(self, **_: object):
        stamp = dt.datetime(2025, 11, 24, 22, tzinfo=dt.UTC)
        yield {"Contents": [{"Key": k, "LastModified": stamp, "ETag": f'"{i}"'}
                            for i, k in enumerate(self.keys)]}


def test_the_sensor_skips_a_source_silver_does_not_read(capfd) -> None:
    keys = [f"landing/source={s}/dataset=bars_1m/trade_date={DAY_1}/x.parquet"
            for s in ("synthetic", "yfinance", "evil")]
    client = SimpleNamespace(get_paginator=lambda _: _Paginator(keys))
    lake = SimpleNamespace(env="s3", zone_buckets={"landing": "bronze"}, s3_client=lambda: client)
    with dg.instance_for_test() as instance:
        result = arrival_requests(dg.build_sensor_context(instance=instance), lake, "synthetic")
    assert [r.tags["finks/landing_key"] for r in result.run_requests] == [keys[0]]
    logged = capfd.readouterr().err
    for skipped in keys[1:]:
        assert skipped in logged
    assert "'evil' is not the configured bar source 'synthetic'" in logged
