"""``finks replay``, ``finks stream-consume`` and ``finks replay-demo``.

``replay`` writes micro-batches to the landing area (local lake or the S3 bucket, whichever
``FINKS_ENV`` picks); ``stream-consume`` is the long-running consumer that keeps the live
table current and sends alerts; ``replay-demo`` runs both, compacts the day, builds gold for
it and compares live VWAP with gold's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import threading
from collections.abc import Sequence

from finks_assets.lib import market_calendar
from finks_assets.lib.resources.factory import build_resources
from finks_assets.lib.settings import FinksSettings, SettingsError
from finks_assets.lib.sources.base import BarSource
from finks_assets.lib.stream import replay as replay_lib
from finks_assets.lib.stream.alert_rules import AlertRules
from finks_assets.lib.stream.consumer import LiveConsumer
from finks_assets.lib.stream.live_state import live_db_path
from finks_assets.lib.tickers import validate_tickers


def add_stream_commands(sub: argparse._SubParsersAction) -> None:
    """Register the stream subcommands on ``finks``' subparsers."""
    rp = sub.add_parser("replay", help="replay a session's 1-minute bars as micro-batches")
    _replay_args(rp, default_speed=60.0)
    rp.add_argument("--recorded", help="a recorded session: Parquet in the bronze payload shape")
    rp.set_defaults(func=replay_command)

    cp = sub.add_parser("stream-consume", help="keep the live table current (long-running)")
    cp.add_argument("--poll-seconds", type=float, default=1.0)
    cp.add_argument("--idle-exit-seconds", type=float, help="stop after this long without input")
    cp.add_argument("--max-seconds", type=float, help="stop after this long in any case")
    _alert_args(cp)
    cp.set_defaults(func=consume_command)

    dp = sub.add_parser("replay-demo", help="replay + live + compaction + gold, end to end")
    _replay_args(dp, default_speed=390.0)
    _alert_args(dp)
    dp.set_defaults(func=demo_command)


def _replay_args(parser: argparse.ArgumentParser, default_speed: float) -> None:
    parser.add_argument("--date", type=dt.date.fromisoformat,
                        help="session to replay (default: the last completed one)")
    parser.add_argument("--tickers", help="comma list; default FINKS_UNIVERSE")
    parser.add_argument("--speed", type=float, default=default_speed,
                        help=f"session minutes per wall minute (default {default_speed:g}; "
                             "'inf' writes at once)")
    parser.add_argument("--flush-minutes", type=int, default=1, help="flush interval (bar time)")
    parser.add_argument("--group-size", type=int, default=25, help="tickers per object")
    parser.add_argument("--minutes", type=int, help="replay only the session's first N minutes")


def _alert_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--price-levels", help="e.g. AAPL=190:200,MSFT=410")
    parser.add_argument("--vwap-deviation-pct", type=float)
    parser.add_argument("--stale-minutes", type=float)


def _rules(args: argparse.Namespace) -> AlertRules:
    return AlertRules(AlertRules.parse_levels(args.price_levels), args.vwap_deviation_pct,
                      args.stale_minutes)


def _day(args: argparse.Namespace) -> dt.date:
    day = args.date or market_calendar.last_completed_sessions(1)[0].date
    if not market_calendar.is_session(day):
        raise SettingsError(f"{day} is not an XNYS session (market closed)")
    return day


def _plan(args: argparse.Namespace, settings: FinksSettings, source: BarSource,
          day: dt.date) -> list[replay_lib.MicroBatch]:
    if getattr(args, "recorded", None):
        raw = replay_lib.recorded_payload(args.recorded)
    else:
        tickers = validate_tickers(args.tickers.split(",")) if args.tickers else settings.universe
        raw = replay_lib.session_payload(source, tickers, day)
    batches = replay_lib.plan_micro_batches(source, raw, day, args.flush_minutes,
                                            args.group_size)
    if args.minutes:
        session = market_calendar.session(day)
        last = session.open_utc + dt.timedelta(minutes=args.minutes)
        batches = [b for b in batches if b.window_end <= last]
    return batches


def replay_command(args: argparse.Namespace) -> int:
    settings = FinksSettings.from_env()
    resources = build_resources(settings)
    source, lake = resources["market_data"].bar_source(), resources["lake"]
    day = _day(args)
    batches = _plan(args, settings, source, day)
    print(f"replaying {day} from {source.name}: {len(batches)} micro-batches at {args.speed:g}x "
          f"into {lake.store().uri('landing')} (FINKS_ENV={settings.env})")
    result = replay_lib.replay(lake.writer(), source.name, day, batches, args.speed)
    print(f"wrote {result.objects} objects, {result.bars} bars in {result.seconds:.1f}s")
    return 0


def _consumer(settings: FinksSettings, rules: AlertRules) -> LiveConsumer:
    resources = build_resources(settings)
    alerts = resources["alerts"].process_config_and_initialize()  # resolves the EnvVars
    return LiveConsumer(resources["lake"].store(), live_db_path(settings.data_dir),
                        resources["market_data"].bar_source(), rules, send=alerts.send)


def consume_command(args: argparse.Namespace) -> int:
    settings = FinksSettings.from_env()
    consumer = _consumer(settings, _rules(args))
    print(f"consuming into {live_db_path(settings.data_dir)} (Ctrl-C to stop)")
    try:
        total = consumer.run(args.poll_seconds, args.idle_exit_seconds, args.max_seconds)
    except KeyboardInterrupt:
        return 0
    finally:
        consumer.close()
    print(f"applied {total.applied} objects, {total.bars} bars, {len(total.alerts)} alerts")
    return 0


def demo_command(args: argparse.Namespace) -> int:
    from finks_assets.cli.stream_demo import run_demo

    return run_demo(args, _day(args), _plan, _consumer, _rules(args))


def consume_in_thread(settings: FinksSettings, rules: AlertRules, stop: threading.Event,
                      poll_seconds: float = 0.5) -> threading.Thread:
    """The consumer loop on a thread (the demo's stand-in for the separate process)."""
    def loop() -> None:
        consumer = _consumer(settings, rules)
        try:
            while not stop.is_set():
                consumer.poll_once()
                stop.wait(poll_seconds)
            consumer.poll_once()  # whatever landed before the stop
        finally:
            consumer.close()

    thread = threading.Thread(target=loop, name="finks-stream-consumer", daemon=True)
    thread.start()
    return thread


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


