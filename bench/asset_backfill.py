"""An asset backfill as users launch it: ``dagster dev`` (webserver, daemon, code server) on a
fresh instance with the repo's ``dagster.yaml``, the UI's ``launchPartitionBackfill`` mutation,
and Dagster's backfill daemon cutting bronze/silver into ``FINKS_PARTITIONS_PER_RUN``-day runs
(their ``BackfillPolicy.multi_run``) and running dbt gold as one run.

The single-run backfill (``bench.worker.finks_range``) runs the same work in one process on an
in-memory instance; this one pays what a deployment pays on top: a process per run that loads
the definitions, SQLite event storage, the run queue, and the backfill daemon's 30-second tick
(``DEFAULT_DAEMON_INTERVAL_SECONDS``) between a chunk's silver and the gold run, and again
before the backfill is marked complete. The clock starts when the mutation returns, as a user's
would when they press "Launch backfill".

``python -m bench.asset_backfill --tickers 20 --days 42 [--partitions-per-run 21]
[--max-concurrent-runs 2]`` runs one and prints its JSON (for tuning the two settings).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.measure import REPO, PeakRss, checkout_env
from bench.worker import SILVER_GLOB, count_rows, tickers
from finks_assets_tests.support.dagster_dev import DagsterDev, dagster_dev

DAILY_JOB = "daily_bars_pipeline"  # finks_assets.defs.bars_1m.jobs.DAILY_BARS_JOB
TERMINAL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
POLL_SECONDS = 2.0
# Coarser than the single run's 50 ms: walking a tree of a dozen processes every 50 ms for many
# minutes costs the shared cores noticeable CPU; a run's peak lasts far longer than this.
RSS_SAMPLE_SECONDS = 0.2

# The daily job's assets: the same work as the single-run backfill (the job excludes the FMP
# path and the freshness checks; a backfill's runs still run every check of their assets).
JOB_ASSETS = """
query JobAssets($job: PipelineSelector!) {
  assetNodes(pipeline: $job) { assetKey { path } isPartitioned }
}
"""
# The UI's LAUNCH_PARTITION_BACKFILL_MUTATION, trimmed.
LAUNCH = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""
BACKFILL = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status timestamp endTimestamp error { message } }
    ... on Error { message }
  }
}
"""
RUNS = """
query BackfillRuns($filter: RunsFilter!) {
  runsOrError(filter: $filter) { ... on Runs { results {
    runId status startTime endTime tags { key value } assetSelection { path }
    stepStats { stepKey status startTime endTime } } } }
}
"""


def _dagster_home(path: Path, repo: Path, max_concurrent_runs: int | None) -> int:
    """Write ``repo``'s dagster.yaml (run queue and pools) into ``path``, optionally with
    another run limit; return the run limit in force."""
    path.mkdir(parents=True)
    config = yaml.safe_load((repo / "dagster.yaml").read_text())
    runs = config["concurrency"]["runs"]
    if max_concurrent_runs is not None:
        runs["max_concurrent_runs"] = max_concurrent_runs
    (path / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return runs["max_concurrent_runs"]


def _job_assets(server: DagsterDev) -> list[list[str]]:
    selector = {"repositoryLocationName": "finks", "repositoryName": "__repository__",
                "pipelineName": DAILY_JOB}
    nodes = server.graphql(JOB_ASSETS, {"job": selector})["assetNodes"]
    # The unpartitioned ones (corporate actions) run once per backfill, in a run of their own.
    if not any(n["isPartitioned"] for n in nodes):
        raise RuntimeError(f"unexpected assets of {DAILY_JOB}: {nodes}")
    return [n["assetKey"]["path"] for n in nodes]


def _launch(server: DagsterDev, assets: list[list[str]], keys: list[str]) -> str:
    params = {"tags": [{"key": "dagster/from_ui", "value": "true"}],
              "assetSelection": [{"path": a} for a in assets],
              "partitionNames": keys, "fromFailure": False}
    answer = server.graphql(LAUNCH, {"backfillParams": params})["launchPartitionBackfill"]
    if answer["__typename"] != "LaunchBackfillSuccess":
        raise RuntimeError(f"launchPartitionBackfill: {answer}")
    return answer["backfillId"]


def _wait(server: DagsterDev, backfill_id: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        backfill = server.graphql(BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
        if backfill.get("status") in TERMINAL:
            return backfill
        if time.monotonic() > deadline:
            raise RuntimeError(f"backfill {backfill_id} still {backfill.get('status')} after "
                               f"{timeout_s:.0f} s:\n{server.log_tail()}")
        time.sleep(POLL_SECONDS)


def _run_summary(runs: list[dict[str, Any]], launched_at: float) -> dict[str, Any]:
    """Per-run spans (seconds after launch) and step seconds summed over the runs."""
    steps: dict[str, float] = {}
    spans = []
    for run in sorted(runs, key=lambda r: r["startTime"] or 0):
        tags = {t["key"]: t["value"] for t in run["tags"]}
        for step in run["stepStats"]:
            if step["startTime"] and step["endTime"]:
                steps[step["stepKey"]] = (steps.get(step["stepKey"], 0.0)
                                          + step["endTime"] - step["startTime"])
        spans.append({
            "status": run["status"],
            "partitions": (tags.get("dagster/asset_partition_range_start", "?") + ".."
                           + tags.get("dagster/asset_partition_range_end", "?")),
            "assets": sorted("/".join(a["path"]) for a in run["assetSelection"] or []),
            "failed_steps": [s["stepKey"] for s in run["stepStats"] if s["status"] == "FAILURE"],
            "start_s": round(run["startTime"] - launched_at, 1) if run["startTime"] else None,
            "end_s": round(run["endTime"] - launched_at, 1) if run["endTime"] else None,
        })
    return {"steps_s": {k: round(v, 2) for k, v in steps.items()}, "runs": spans}


def session_keys(window: list[dt.date]) -> list[str]:
    """The partition keys of ``window``: its XNYS sessions (holidays are not partitions)."""
    return [d.isoformat() for d in window]


def _workspace(path: Path, repo: Path) -> Path:
    path.write_text("load_from:\n  - python_module:\n"
                    "      module_name: finks_assets.definitions\n"
                    f"      working_directory: {repo.resolve()}\n"
                    "      location_name: finks\n")
    return path


def asset_backfill(root: Path, n: int, window: list[dt.date], partitions_per_run: int | None = None,
                   max_concurrent_runs: int | None = None, timeout_s: float = 3600,
                   repo: Path = REPO) -> dict[str, Any]:
    """Launch the daily job's assets over ``window`` as one asset backfill; measure it.

    ``partitions_per_run``: None for Finks' default (sized by the universe, ``run_days``).
    ``repo``: the checkout whose definitions the code server loads (default this one)."""
    if partitions_per_run is None:
        from finks_assets.lib.settings import FinksSettings
        universe = {"FINKS_UNIVERSE": ",".join(tickers(n))}
        partitions_per_run = FinksSettings.from_env(universe).run_days
    work = root / f"asset-backfill-{n}x{len(window)}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    data_dir = work / "finks"
    env = {"FINKS_ENV": "local", "FINKS_SOURCE": "synthetic", "FINKS_DATA_DIR": str(data_dir),
           "FINKS_UNIVERSE": ",".join(tickers(n)),
           "FINKS_PARTITIONS_PER_RUN": str(partitions_per_run), **checkout_env(repo)}
    home = work / "dagster_home"
    run_limit = _dagster_home(home, repo, max_concurrent_runs)
    workspace = _workspace(work / "workspace.yaml", repo)
    keys = session_keys(window)
    try:
        with PeakRss(os.getpid(), include_root=False, interval_s=RSS_SAMPLE_SECONDS) as rss:
            started = time.perf_counter()
            with dagster_dev(workspace, home, env, timeout_s=600) as server:
                ready_s = time.perf_counter() - started
                idle_rss = rss.peak
                assets = _job_assets(server)
                launched, launched_at = time.perf_counter(), time.time()
                backfill_id = _launch(server, assets, keys)
                backfill = _wait(server, backfill_id, timeout_s)
                wall = time.perf_counter() - launched
                runs = server.graphql(RUNS, {"filter": {"tags": [
                    {"key": "dagster/backfill", "value": backfill_id}]}})
                runs = runs["runsOrError"]["results"]
                # Runs the backfill did not launch (e.g. sensors reacting to its materializations)
                # share the run queue with it.
                every = server.graphql(RUNS, {"filter": {}})["runsOrError"]["results"]
                other_runs = sorted({r["runId"] for r in every} - {r["runId"] for r in runs})
        summary = _run_summary(runs, launched_at)
        last_end = max(r["endTime"] for r in runs)
        silver_rows = count_rows(data_dir / "lake" / SILVER_GLOB)
        return {
            "tickers": n, "days": len(window), "partitions": len(keys),
            "assets": len(assets), "partitions_per_run": partitions_per_run,
            "max_concurrent_runs": run_limit,
            # Anything but COMPLETED_SUCCESS means some partitions were not built: the report
            # shows it next to the time instead of dropping the measurement.
            "status": backfill["status"], "error": (backfill.get("error") or {}).get("message"),
            "failed_steps": [f"{step} ({r['partitions']})" for r in summary["runs"]
                             for step in r["failed_steps"]],
            "wall_s": round(wall, 2),
            # The work itself: launch until the last run ended (the rest is the daemon's tick).
            "runs_done_s": round(last_end - launched_at, 2),
            "marked_complete_after_last_run_s": round(
                (backfill["endTimestamp"] or time.time()) - last_end, 2),
            "dagster_dev_ready_s": round(ready_s, 2),
            "peak_rss_mb": round(rss.peak / 2**20), "idle_rss_mb": round(idle_rss / 2**20),
            "silver_rows": silver_rows, "rows_per_s": round(silver_rows / wall),
            "run_count": len(runs), "other_runs": len(other_runs), **summary,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    from bench.scenarios import session_window

    parser = argparse.ArgumentParser(prog="python -m bench.asset_backfill", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickers", type=int, default=20)
    parser.add_argument("--days", type=int, default=42)
    parser.add_argument("--partitions-per-run", type=int,
                        help="FINKS_PARTITIONS_PER_RUN (default: Finks' own, sized by the universe)")
    parser.add_argument("--max-concurrent-runs", type=int)
    parser.add_argument("--work-dir", help="scratch directory (default: a temp dir)")
    parser.add_argument("--out", help="also write the JSON here")
    parser.add_argument("--repo", default=str(REPO),
                        help="checkout whose definitions to load (default: this one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="finks-bench-", dir=args.work_dir) as tmp:
        result = asset_backfill(Path(tmp), args.tickers, session_window(args.days),
                                args.partitions_per_run, args.max_concurrent_runs,
                                repo=Path(args.repo))
    text = json.dumps(result, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    raise SystemExit(main())
