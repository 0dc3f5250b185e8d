"""Replay -> landing micro-batches -> live table, local mode, real files and SQLite.

One session x 50 tickers replayed at an unbounded speed factor (the pacing itself is checked
with a fake clock): no bar lost or duplicated, names sort by time, live VWAP per ticker equals
the day's sum(close * volume) / sum(volume); a redelivered object changes nothing; the API
serves the row with the prices key and scope.
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from finks_api.app import create_app
from finks_api.config import ApiConfig
from finks_api.keys import KeyStore
from finks_assets.lib.lake.landing import LandedObject, parse_landed_key
from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.lake.writer import LakeWriter
from finks_assets.lib.sources.synthetic import SyntheticSource
from finks_assets.lib.stream import live_state
from finks_assets.lib.stream import replay as rp
from finks_assets.lib.stream.consumer import LiveConsumer
from finks_assets.lib.stream.layout import STREAM_DATASET, parse_micro_batch

DAY = dt.date(2025, 11, 25)
TICKERS = [f"S{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(50)]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("stream")
    store = LakeStore.local(str(root / "lake"))
    source = SyntheticSource(seed=7)
    raw = rp.session_payload(source, TICKERS, DAY)
    batches = rp.plan_micro_batches(source, raw, DAY, flush_minutes=1, group_size=25)
    result = rp.replay(LakeWriter(store), source.name, DAY, batches, speed=math.inf)
    yield root, store, source, raw, result
    shutil.rmtree(root, ignore_errors=True)


def test_replay_writes_every_bar_once_in_time_sorted_objects(replayed) -> None:
    _root, store, source, raw, result = replayed
    assert result.objects == 2 * 390 and result.bars == 50 * 390 == len(raw)
    names = [p.rsplit("/", 1)[-1] for p in result.paths]
    assert names == sorted(names)  # written in name order = time order
    assert [parse_micro_batch(p) for p in result.paths] == sorted(
        parse_micro_batch(p) for p in result.paths)
    written = pd.concat([store.read_parquet(p).to_pandas() for p in result.paths])
    keys = list(zip(written["_ticker"], written["ts"], strict=True))
    assert len(keys) == len(set(keys)) == 50 * 390
    assert set(keys) == set(zip(raw["_ticker"], raw["ts"], strict=True))
    # The batch landing sensor parses the key and sees another dataset (it skips it).
    landed = parse_landed_key(LandedObject(result.paths[0].split("/lake/", 1)[1],
                                           pd.Timestamp.now(tz="UTC"), "e"))
    assert (landed.dataset, landed.trade_date) == (STREAM_DATASET, DAY)


def test_replay_paces_windows_by_the_speed_factor(tmp_path: Path) -> None:
    source = SyntheticSource(seed=7)
    raw = rp.session_payload(source, TICKERS[:3], DAY)
    batches = rp.plan_micro_batches(source, raw, DAY, flush_minutes=5, group_size=25)
    now = [0.0]
    rp.replay(LakeWriter(LakeStore.local(str(tmp_path))), source.name, DAY, batches, speed=60,
              clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert len(batches) == 78
    assert now[0] == pytest.approx(390 * 60 / 60)  # the session in 6.5 minutes at 60x


def test_live_vwap_volume_and_last_price_and_redelivery(replayed, tmp_path: Path) -> None:
    _root, store, source, raw, result = replayed
    consumer = LiveConsumer(store, tmp_path / "live.sqlite", source)
    try:
        first = consumer.poll_once()
        assert (first.applied, first.bars, first.duplicates) == (780, 50 * 390, 0)
        assert consumer.poll_once().applied == 0  # checkpointed: nothing applied twice
        # The same object delivered again under another name adds no bar.
        again = result.paths[10].replace("-g000.parquet", "-g900.parquet").replace(
            "-g001.parquet", "-g901.parquet")
        shutil.copy(result.paths[10], again)
        redelivered = consumer.poll_once()
        assert (redelivered.applied, redelivered.bars, redelivered.duplicates) == (1, 0, 25)
    finally:
        consumer.close()
    expected = raw.assign(notional=raw["close"] * raw["volume"]).groupby("_ticker").agg(
        notional=("notional", "sum"), volume=("volume", "sum"), n=("ts", "size"))
    last = raw.sort_values("ts").groupby("_ticker")["close"].last()
    for ticker in TICKERS:
        row = live_state.read_live(tmp_path / "live.sqlite", ticker)
        assert row is not None and row["bars"] == 390 and row["trade_date"] == DAY.isoformat()
        assert row["cum_volume"] == expected.loc[ticker, "volume"]
        assert row["last_price"] == last[ticker]
        vwap = expected.loc[ticker, "notional"] / expected.loc[ticker, "volume"]
        assert abs(row["vwap"] - vwap) <= 1e-9
    con = live_state.connect(tmp_path / "live.sqlite")
    lat = live_state.latencies(con)
    con.close()
    assert len(lat) == 781 and np.all(np.array(lat) >= 0)


def test_api_serves_live_rows_with_the_prices_scope(replayed, tmp_path: Path) -> None:
    _root, store, source, _raw, _result = replayed
    data = tmp_path / "finks"
    consumer = LiveConsumer(store, live_state.live_db_path(data), source)
    consumer.poll_once()
    consumer.close()
    config = ApiConfig(warehouse_path=data / "warehouse.duckdb",
                       key_store_path=tmp_path / "keys.json", snapshot_dir=tmp_path / "snap")
    keys = KeyStore(config.key_store_path)
    prices, portfolio = keys.create(["prices:read"]).key, keys.create(["portfolio:read"]).key
    with TestClient(create_app(config)) as client:
        ok = client.get("/v1/live/SAA", headers={"X-API-Key": prices})
        assert ok.status_code == 200
        body = ok.json()
        assert body["ticker"] == "SAA" and body["bars"] == 390 and body["vwap"] > 0
        assert body["last_bar_ts"].startswith("2025-11-25T20:59")
        assert client.get("/v1/live/SAA").status_code == 401
        assert client.get("/v1/live/SAA", headers={"X-API-Key": portfolio}).status_code == 403
        assert client.get("/v1/live/ZZZZ", headers={"X-API-Key": prices}).status_code == 404
        assert client.get("/v1/live/bad;sym", headers={"X-API-Key": prices}).status_code == 422
