"""``finks demo`` and ``finks summary``.

The demo runs the real job (bronze -> silver -> dbt gold) as one single-run range over the
last N completed sessions, against the persistent Dagster instance in ``DAGSTER_HOME`` when
it is set, so the runs show up in ``make dev`` afterwards.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from finks_assets.cli.stream import add_stream_commands
from finks_assets.cli.summary import format_summary, gold_summary
from finks_assets.lib import market_calendar
from finks_assets.lib.settings import FinksSettings, SettingsError
from finks_assets.lib.tickers import InvalidTickerError, validate_tickers

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def run_range(
    settings: FinksSettings,
    first_key: str,
    last_key: str,
    tickers: Sequence[str] | None = None,
    instance: dg.DagsterInstance | None = None,
    resource_overrides: Mapping[str, Any] | None = None,
    refetch: bool = False,
) -> dg.ExecuteInProcessResult:
    """Materialize bronze -> gold for the partitions first_key..last_key in one run.

    One in-process run, as the demo wants it. Backfills (launched from the UI or
    ``dagster asset backfill``) are cut into runs by the assets' backfill policies instead.
    If the silver gate holds a day, the run fails and builds no gold; the CLI names the day.
    """
    # Imported here, after main() silenced Dagster's beta warnings: importing the asset modules
    # is what emits them.
    from finks_assets.definitions import build_definitions
    from finks_assets.defs.bars_1m.jobs import DAILY_BARS_JOB

    defs = build_definitions(settings, resource_overrides)
    job = defs.resolve_job_def(DAILY_BARS_JOB)
    bronze_op = "bronze__fmp_eod" if settings.source == "fmp" else "bronze__bars_1m"
    config: dict[str, Any] = {"tickers": list(tickers)} if tickers else {}
    if refetch and settings.source != "fmp":
        config["refetch"] = True  # re-fetch what bronze already holds (the fetch planner skips it)
    run_config = {"ops": {bronze_op: {"config": config}}} if config else {}
    return job.execute_in_process(
        run_config=run_config,
        instance=instance,
        tags={RANGE_START_TAG: first_key, RANGE_END_TAG: last_key},
        raise_on_error=False,
    )


def held_days(result: dg.ExecuteInProcessResult) -> dict[str, list[str]]:
    """The days the silver gate held in ``result`` (none when every blocking check passed)."""
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed and "held_partitions" in evaluation.metadata:
            return dict(evaluation.metadata["held_partitions"].data)
    return {}


def _instance() -> dg.DagsterInstance:
    if os.environ.get("DAGSTER_HOME"):
        os.makedirs(os.environ["DAGSTER_HOME"], exist_ok=True)
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def demo(args: argparse.Namespace) -> int:
    settings = FinksSettings.from_env()
    # `--tickers ""` is an error, not "the whole universe".
    tickers = validate_tickers(args.tickers.split(",")) if args.tickers is not None else None
    sessions = market_calendar.last_completed_sessions(args.days)
    first, last = sessions[0].date.isoformat(), sessions[-1].date.isoformat()
    print(
        f"Finks demo: source={settings.source} env={settings.env} data_dir={settings.data_dir}\n"
        f"  {len(tickers or settings.universe)} tickers, {args.days} trading days {first} .. {last}"
    )
    started = time.perf_counter()
    with _instance() as instance:
        result = run_range(settings, first, last, tickers, instance=instance)
    elapsed = time.perf_counter() - started
    if not result.success:
        failures = [e for e in result.all_events if e.is_step_failure]
        print(f"Run {result.run_id} FAILED after {elapsed:.1f}s "
              f"(steps: {[e.step_key for e in failures]})", file=sys.stderr)
        for event in failures:
            error = event.step_failure_data.error
            message = (error.message if error else "").strip().splitlines()
            print(f"  {event.step_key}: {message[0] if message else 'failed'}", file=sys.stderr)
        for day, checks in held_days(result).items():
            print(f"  {day} held by the silver gate: {', '.join(checks)}", file=sys.stderr)
        return 1
    print(f"Run {result.run_id} succeeded in {elapsed:.1f}s\n")
    if settings.source == "fmp" and not _fmp_reference(settings, result, tickers):
        return 1
    return summary(args)


def _fmp_reference(settings: FinksSettings, prices: dg.ExecuteInProcessResult,
                   tickers: Sequence[str] | None) -> bool:
    """FINKS_SOURCE=fmp: report tickers FMP failed, then build profiles and fundamentals."""
    from finks_assets.cli.fmp_demo import failed_tickers, run_fmp_reference

    for asset, names in failed_tickers(prices).items():
        print(f"  {asset}: FMP failed for {', '.join(names)} (reasons in the audit/metadata)")
    with _instance() as instance:
        result = run_fmp_reference(settings, list(tickers or settings.universe), instance)
    for asset, names in failed_tickers(result).items():
        print(f"  {asset}: FMP failed for {', '.join(names)}")
    print(f"FMP reference run {result.run_id}: {'succeeded' if result.success else 'FAILED'}\n")
    return result.success


def summary(_args: argparse.Namespace) -> int:
    from finks_assets.lib.resources.warehouse import WarehouseResource

    settings = FinksSettings.from_env()
    con = WarehouseResource(path=str(settings.warehouse_path)).connect_read_only()
    try:
        print(format_summary(gold_summary(con)))
    finally:
        con.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # Dagster flags `backfill_policy` as beta on every definitions load: noise for CLI users.
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    parser = argparse.ArgumentParser(prog="finks", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo_parser = sub.add_parser("demo", help="materialize bronze -> gold for recent sessions")
    demo_parser.add_argument("--days", type=int, default=5, help="trading days (default 5)")
    demo_parser.add_argument("--tickers", help="comma list; default FINKS_UNIVERSE")
    demo_parser.set_defaults(func=demo)
    sub.add_parser("summary", help="print the gold summary").set_defaults(func=summary)
    add_stream_commands(sub)
    args = parser.parse_args(argv)
    if getattr(args, "days", 1) < 1:
        parser.error("--days must be at least 1")
    try:
        return args.func(args)
    except (InvalidTickerError, SettingsError, FileNotFoundError) as exc:
        print(f"finks: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
