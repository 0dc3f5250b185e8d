"""``finks replay-demo``: one session end to end, in about two minutes.

Replay (default 390x: the 390-minute session in one minute; ``--speed 60`` is the real
6.5-minute rehearsal) while the consumer keeps the live table current, then compaction after
the "close" (the Dagster job), gold for the day (the landed-bars job: silver from bronze,
which now holds the compacted stream payload, then dbt), and the checks: live VWAP equals
gold's VWAP, object count and query time before and after compaction, landing -> live p95.
"""

from __future__ import annotations

import argparse
import datetime as dt
import threading
from collections.abc import Callable

from finks_assets.cli.stream import consume_in_thread, percentile
from finks_assets.lib.lake.layout import dataset_partition_dir
from finks_assets.lib.resources.factory import build_resources
from finks_assets.lib.settings import FinksSettings
from finks_assets.lib.stream import live_state
from finks_assets.lib.stream import replay as replay_lib
from finks_assets.lib.stream.alert_rules import AlertRules
from finks_assets.lib.stream.compaction import micro_batch_paths
from finks_assets.lib.stream.scan import time_vwap_scan

VWAP_TOLERANCE = 1e-9
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}  # the demo prints its own


def run_demo(args: argparse.Namespace, day: dt.date, plan: Callable, _consumer: Callable,
             rules: AlertRules) -> int:
    from finks_assets.cli.main import _instance
    from finks_assets.definitions import build_definitions
    from finks_assets.defs.bars_1m.landing_sensor import LANDED_BARS_JOB
    from finks_assets.defs.stream.definitions import STREAM_COMPACTION_JOB

    settings = FinksSettings.from_env()
    resources = build_resources(settings)
    source, lake = resources["market_data"].bar_source(), resources["lake"]
    store = lake.store()
    batches = plan(args, settings, source, day)
    print(f"Finks replay demo: {day}, {len(batches)} micro-batches at {args.speed:g}x, "
          f"FINKS_ENV={settings.env}, data_dir={settings.data_dir}")
    stop = threading.Event()
    consumer = consume_in_thread(settings, rules, stop)
    try:
        result = replay_lib.replay(lake.writer(), source.name, day, batches, args.speed)
    finally:
        stop.set()
        consumer.join(timeout=120)
    print(f"  replay: {result.objects} objects, {result.bars} bars in {result.seconds:.1f}s")
    db = live_state.live_db_path(settings.data_dir)
    con = live_state.connect(db)
    lat = live_state.latencies(con)
    live = {r[0]: r[1] for r in con.execute("select ticker, vwap from live where trade_date = ?",
                                            (day.isoformat(),))}
    fired = con.execute("select count(*) from alert_outbox").fetchone()[0]
    con.close()
    print(f"  live: {len(live)} tickers; landing -> live latency p50 {percentile(lat, 0.5):.2f}s"
          f" p95 {percentile(lat, 0.95):.2f}s over {len(lat)} objects; {fired} alerts fired")

    before = time_vwap_scan(store, micro_batch_paths(store, source.name, day))
    defs = build_definitions(settings)
    with _instance() as instance:
        compaction = defs.resolve_job_def(STREAM_COMPACTION_JOB).execute_in_process(
            partition_key=day.isoformat(), instance=instance, raise_on_error=False,
            run_config=QUIET)
        if not compaction.success:
            print("  compaction FAILED (see the run's logs)")
            return 1
        after = time_vwap_scan(store, store.list_parquet(
            dataset_partition_dir("silver", "bars_1m", day)))
        print(f"  compaction: {before.files} objects ({before.rows} rows, VWAP query "
              f"{before.seconds * 1000:.0f} ms) -> {after.files} silver file ({after.rows} rows,"
              f" {after.seconds * 1000:.0f} ms)")
        gold = defs.resolve_job_def(LANDED_BARS_JOB).execute_in_process(
            partition_key=day.isoformat(), instance=instance, raise_on_error=False,
            run_config=QUIET)
    if not gold.success:
        print("  gold build FAILED (see the run's logs)")
        return 1
    warehouse = resources["warehouse"].connect_read_only()
    try:
        rows = warehouse.execute("select ticker, vwap from gold.fct_daily_bars "
                                 "where trade_date = ?", [day]).fetchall()
    finally:
        warehouse.close()
    gold_vwap = dict(rows)
    diffs = [abs(live[t] - gold_vwap[t]) for t in live if t in gold_vwap]
    worst = max(diffs, default=float("nan"))
    ok = len(diffs) == len(live) == len(gold_vwap) and worst <= VWAP_TOLERANCE
    print(f"  live VWAP vs gold.fct_daily_bars: {len(diffs)} tickers, max |diff| {worst:.2e} "
          f"({'OK' if ok else 'MISMATCH'}, tolerance {VWAP_TOLERANCE:g})")
    return 0 if ok else 1
