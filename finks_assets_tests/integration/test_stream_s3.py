"""The intraday stream in ``FINKS_ENV=s3`` against a real S3 server (SeaweedFS).

``finks replay`` (the CLI) writes the micro-batches into the bronze bucket under
``landing/source=synthetic/dataset=bars_1m_stream/``; the consumer applies them from S3;
the compaction asset turns them into one silver object and removes them; live VWAP equals
gold's formula over the compacted silver day.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from finks_assets.cli.main import main
from finks_assets.defs.stream.compaction import stream_bars_1m_compaction
from finks_assets.lib.resources.factory import build_resources
from finks_assets.lib.settings import FinksSettings
from finks_assets.lib.stream import live_state
from finks_assets.lib.stream.compaction import micro_batch_paths, read_silver_day
from finks_assets.lib.stream.consumer import LiveConsumer
from finks_assets_tests.support.seaweedfs import S3Server

DAY = dt.date(2025, 11, 25)
TICKERS = ["AAPL", "MSFT", "SPY", "JPM"]


def _keys(server: S3Server, bucket: str, prefix: str) -> list[str]:
    pages = server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                      Prefix=prefix)
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


def test_replay_consume_and_compact_on_s3(s3_server: S3Server, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"FINKS_ENV": "s3", "FINKS_DATA_DIR": str(tmp_path / "finks"),
           "FINKS_UNIVERSE": ",".join(TICKERS), **s3_server.environ()}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(["replay", "--date", DAY.isoformat(), "--speed", "inf", "--flush-minutes", "5",
                 "--group-size", "2"]) == 0
    prefix = f"landing/source=synthetic/dataset=bars_1m_stream/trade_date={DAY}/"
    landed = _keys(s3_server, "finks-bronze", prefix)
    assert len(landed) == 78 * 2 and landed == sorted(landed)
    assert not (tmp_path / "finks" / "lake").exists()  # nothing in the local lake

    settings = FinksSettings.from_env(env)
    resources = build_resources(settings)
    store = resources["lake"].store()
    db = live_state.live_db_path(settings.data_dir)
    consumer = LiveConsumer(store, db, resources["market_data"].bar_source())
    assert consumer.poll_once().bars == len(TICKERS) * 390
    consumer.close()

    result = dg.materialize([stream_bars_1m_compaction], resources=resources,
                            partition_key=DAY.isoformat())
    assert result.success
    assert micro_batch_paths(store, "synthetic", DAY) == []
    # pyarrow's S3 delete_file leaves a "directory" marker for the emptied prefix (the
    # landing listing skips such keys); no object remains.
    assert [k for k in _keys(s3_server, "finks-bronze", prefix) if not k.endswith("/")] == []
    assert len(_keys(s3_server, "finks-silver", f"silver/bars_1m/trade_date={DAY}/")) == 1
    silver = read_silver_day(store, DAY)
    assert len(silver) == len(TICKERS) * 390
    # gold's formula (int_bars_1m__daily_rollup) over the compacted day
    with duckdb.connect() as con:
        con.register("silver", silver)
        gold = dict(con.execute(
            "select ticker, cast(sum(cast(close * volume as decimal(38, 9))) as double)"
            " / nullif(sum(volume), 0) from silver group by ticker").fetchall())
    for ticker in TICKERS:
        assert abs(live_state.read_live(db, ticker)["vwap"] - gold[ticker]) <= 1e-9
