"""Intraday alert rules: each fires exactly once per crossing.

Scripted bars are landed as real micro-batches and applied by the real consumer; alerts go
through the existing ``AlertResource`` to a real local webhook (an HTTP server on loopback).
The consumer is restarted half-way, so the once-per-crossing state is shown to survive it.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from finks_assets.lib import market_calendar
from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.lake.writer import LakeWriter
from finks_assets.lib.resources.alerts import AlertResource
from finks_assets.lib.sources.synthetic import SyntheticSource
from finks_assets.lib.stream.alert_rules import AlertRules
from finks_assets.lib.stream.consumer import LiveConsumer
from finks_assets.lib.stream.layout import micro_batch_path

DAY = dt.date(2025, 11, 25)
OPEN = market_calendar.session(DAY).open_utc


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def _land(store: LakeStore, minute: int, prices: dict[str, float]) -> None:
    """One micro-batch holding each ticker's bar of ``minute`` (flat bar at ``price``)."""
    ts = OPEN + pd.Timedelta(minutes=minute)
    raw = pd.DataFrame({
        "ts": [ts] * len(prices), "open": list(prices.values()), "high": list(prices.values()),
        "low": list(prices.values()), "close": list(prices.values()),
        "volume": [1000] * len(prices), "_ticker": list(prices),
        "_fetched_at": pd.Timestamp.now(tz="UTC"),
    })
    LakeWriter(store).write_parquet(micro_batch_path("synthetic", DAY, ts, 0),
                                    pa.Table.from_pandas(raw))


def _consumer(store: LakeStore, db: Path, rules: AlertRules, url: str) -> LiveConsumer:
    return LiveConsumer(store, db, SyntheticSource(), rules,
                        send=AlertResource(webhook_url=url).send)


def _fired(received: list[dict], prefix: str) -> list[tuple[str, int]]:
    return [(a["ticker"], a["bar_ts"]) for a in received if a["rule"].startswith(prefix)]


def test_each_rule_fires_once_per_crossing(tmp_path: Path, webhook) -> None:
    url, received = webhook
    store, db = LakeStore.local(str(tmp_path / "lake")), tmp_path / "live.sqlite"
    rules = AlertRules(price_levels={"AAA": (100.5,)}, vwap_deviation_pct=2.0, stale_minutes=3)
    # AAA: below 100.5, crosses up, stays up, crosses down, crosses up again (3 crossings).
    # BBB: at its VWAP, jumps >2% away (fires), stays away (no repeat), comes back, leaves again.
    # CCC: trades for 2 minutes, then goes silent while the others go on (stale once), returns,
    #      then goes silent again (stale a second time).
    script = [
        {"AAA": 100.0, "BBB": 50.0, "CCC": 10.0},   # 0
        {"AAA": 101.0, "BBB": 50.0, "CCC": 10.0},   # 1  AAA up
        {"AAA": 102.0, "BBB": 52.0},                # 2  BBB out (VWAP ~50.67, +2.6%)
        {"AAA": 103.0, "BBB": 53.0},                # 3  BBB still out
        {"AAA": 99.0, "BBB": 51.0},                 # 4  AAA down; BBB back in band
        {"AAA": 99.5, "BBB": 51.0},                 # 5  CCC: last bar minute 1 -> 4 min > 3
        {"AAA": 101.0, "BBB": 48.0, "CCC": 10.0},   # 6  AAA up; BBB out again; CCC fresh
        {"AAA": 101.5, "BBB": 48.0},                # 7
        {"AAA": 101.5, "BBB": 48.0},                # 8
        {"AAA": 101.5, "BBB": 48.0},                # 9
        {"AAA": 101.5, "BBB": 48.0},                # 10 CCC stale again (4 min)
    ]
    consumer = _consumer(store, db, rules, url)
    for minute, prices in enumerate(script):
        _land(store, minute, prices)
        if minute == 5:  # restart the consumer mid-session: states come from the store
            consumer.close()
            consumer = _consumer(store, db, rules, url)
        consumer.poll_once()
    consumer.poll_once()
    consumer.close()

    us = lambda minute: int((OPEN + pd.Timedelta(minutes=minute)).value // 1000)  # noqa: E731
    assert _fired(received, "price_cross") == [("AAA", us(1)), ("AAA", us(4)), ("AAA", us(6))]
    assert _fired(received, "vwap_deviation") == [("BBB", us(2)), ("BBB", us(6))]
    assert _fired(received, "stale") == [("CCC", us(5)), ("CCC", us(10))]
    assert all(a["kind"] == "stream_alert" and a["text"].startswith("Finks live alert")
               for a in received)


def test_alerts_are_not_repeated_after_a_restart_and_reprocessing(tmp_path: Path,
                                                                   webhook) -> None:
    url, received = webhook
    store, db = LakeStore.local(str(tmp_path / "lake")), tmp_path / "live.sqlite"
    rules = AlertRules(price_levels={"AAA": (100.5,)})
    for minute, price in enumerate([100.0, 101.0]):
        _land(store, minute, {"AAA": price})
    first = _consumer(store, db, rules, url)
    assert len(first.poll_once().alerts) == 1
    first.close()
    second = _consumer(store, db, rules, url)  # nothing new: nothing applied, nothing sent
    assert second.poll_once().applied == 0
    second.close()
    assert len(received) == 1


def test_price_levels_are_parsed_and_validated() -> None:
    assert AlertRules.parse_levels("AAPL=190.5:200, MSFT=410") == {
        "AAPL": (190.5, 200.0), "MSFT": (410.0,)}
    with pytest.raises(ValueError):
        AlertRules.parse_levels("../x=1")
    with pytest.raises(ValueError):
        AlertRules(vwap_deviation_pct=0)


def test_a_broken_object_is_rejected_without_stalling_the_stream(tmp_path: Path) -> None:
    store, db = LakeStore.local(str(tmp_path / "lake")), tmp_path / "live.sqlite"
    _land(store, 0, {"AAA": 100.0})
    broken = store.path(micro_batch_path("synthetic", DAY, OPEN + pd.Timedelta(minutes=1), 0))
    Path(broken).write_bytes(b"not parquet")
    _land(store, 2, {"AAA": 102.0})
    consumer = LiveConsumer(store, db, SyntheticSource())
    first = consumer.poll_once()
    assert (first.applied, first.bars) == (2, 2)  # the two good objects
    assert consumer.poll_once().applied == 0  # the broken one is not retried forever
    assert consumer.live["AAA"].last_price == 102.0 and consumer.live["AAA"].bars == 2
    consumer.close()
    only_broken = LiveConsumer(LakeStore.local(str(tmp_path / "lake2")), tmp_path / "b.sqlite",
                               SyntheticSource())
    Path(only_broken.store.path(micro_batch_path("synthetic", DAY, OPEN, 0))).parent.mkdir(
        parents=True)
    Path(only_broken.store.path(micro_batch_path("synthetic", DAY, OPEN, 0))).write_bytes(b"x")
    assert only_broken.poll_once().applied == 0
    assert only_broken.pending() == []
    only_broken.close()
