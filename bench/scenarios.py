"""The five benchmark scenarios of issue 8, each measured next to its baseline in the same run.

Every scenario returns plain dicts (one per row of the report) so ``bench.report`` can render
them and ``docs/benchmarks.json`` keeps the raw numbers.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from bench.asset_backfill import asset_backfill
from bench.measure import REPO, Measurement, checkout_env, run_task
from bench.worker import tickers
from finks_assets.lib import market_calendar

WINDOW_END = dt.date(2025, 12, 31)  # a fixed window keeps reruns comparable


@dataclass(frozen=True)
class Sizes:
    backfill_tickers: int
    backfill_days: int
    increment_tickers: int
    reingest_tickers: int
    reingest_days: int
    reingest_history_days: int
    reloads: int
    scaling_tickers: tuple[int, ...]
    scaling_days: int
    ui_tickers: int
    increment_rounds: int  # alternating new/before rounds of the daily increment
    definitions_rounds: int  # alternating new/before definitions loads


# quick: a smoke run in minutes. standard: what `make bench` runs and docs/benchmarks.md shows,
# sized to finish in ~15 min on the shared 2-core machine. full: the sizes the issue names.
QUICK = Sizes(20, 21, 100, 20, 7, 5, 3, (5, 10, 20, 40), 10, 500, 1, 2)
STANDARD = Sizes(100, 63, 500, 200, 7, 10, 10, (50, 100, 200, 500), 5, 500, 3, 5)
FULL = Sizes(200, 252, 500, 200, 7, 10, 10, (50, 100, 200, 500), 63, 500, 3, 5)
PRESETS = {"quick": QUICK, "standard": STANDARD, "full": FULL}


def session_window(count: int, end: dt.date = WINDOW_END) -> list[dt.date]:
    """The last ``count`` XNYS sessions up to ``end``."""
    labels = market_calendar.calendar().sessions_in_range(
        end - dt.timedelta(days=count * 2 + 30), end
    )
    return [label.date() for label in labels][-count:]


class Workspace:
    """A scratch directory per scenario, removed afterwards (the lake can be gigabytes)."""

    def __init__(self, root: Path, name: str) -> None:
        self.path = root / name
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(parents=True)

    def data_dir(self, name: str) -> str:
        return str(self.path / name)

    def cleanup(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def reset(self) -> None:
        """Empty the directory between two runs of a scenario (each wants a fresh lake)."""
        self.cleanup()
        self.path.mkdir(parents=True)


@dataclass(frozen=True)
class Before:
    """The checkout that measures "today's" code next to this one (``--baseline-repo``)."""

    repo: Path
    commit: str
    module: str  # where its finks_assets was imported from, checked once

    @classmethod
    def of(cls, repo: str | Path | None) -> Before | None:
        if repo is None:
            return None
        repo = Path(repo).resolve()
        commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        module = subprocess.run(
            [sys.executable, "-c", "import finks_assets; print(finks_assets.__file__)"],
            cwd=repo, env={**os.environ, **checkout_env(repo)}, capture_output=True, text=True,
            check=True).stdout.strip()
        if not module.startswith(str(repo)):
            raise RuntimeError(f"{repo}: finks_assets imported from {module}, not the checkout")
        return cls(repo, commit, module)

    @property
    def label(self) -> str:
        return f"before (`{self.commit}`)"


def _finks(data_dir: str, n: int, days: list[dt.date], log_dir: Path,
           repo: Path = REPO, refetch: bool = False) -> Measurement:
    return run_task("finks_range", {"data_dir": data_dir, "tickers": n,
                                    "first": days[0].isoformat(), "last": days[-1].isoformat(),
                                    **({"refetch": True} if refetch else {})},
                    log_dir=log_dir, repo=repo)


def _baseline(data_dir: str, out_dir: str, days: list[dt.date], log_dir: Path) -> Measurement:
    return run_task("duckdb_baseline", {"lake_root": str(Path(data_dir) / "lake"),
                                        "out_dir": out_dir, "first": days[0].isoformat(),
                                        "last": days[-1].isoformat()}, log_dir=log_dir)


def _row(name: str, m: Measurement, rows: int, **extra: Any) -> dict[str, Any]:
    return {"name": name, "wall_s": round(m.wall_s, 2), "rows": rows,
            "rows_per_s": round(rows / m.wall_s) if m.wall_s else None,
            "peak_rss_mb": round(m.peak_rss_mb), **extra}


def _run_row(name: str, m: Measurement) -> dict[str, Any]:
    """A single-run row: wall, rows, step seconds, and what is neither a step nor the import
    (Dagster's own work: planning, the event log, the IO manager between steps)."""
    steps = m.report["steps_s"]
    return _row(name, m, m.report["silver_rows"],
                steps_s={k: round(v, 2) for k, v in steps.items()},
                import_s=round(m.report["import_s"], 2),
                dagster_s=round(m.report["run_s"] - sum(steps.values()), 2))


def backfill(root: Path, n: int, days: int, log_dir: Path, before: Before | None = None,
             partitions_per_run: int | None = None,
             max_concurrent_runs: int | None = None) -> dict[str, Any]:
    """Scenario 1: the asset backfill (Dagster's daemon, multi-run bronze/silver) next to the
    single run of the same code, today's single run (``before``) and plain DuckDB over the
    bronze the single run wrote. The before/asset pair runs back to back."""
    ws = Workspace(root, f"backfill-{n}x{days}")
    window = session_window(days)
    try:
        finks = _finks(ws.data_dir("finks"), n, window, log_dir)
        rows = finks.report["silver_rows"]
        duck = _baseline(ws.data_dir("finks"), ws.data_dir("baseline"), window, log_dir)
        if duck.report["silver_rows"] != rows:
            raise AssertionError(f"baseline rows {duck.report['silver_rows']} != finks {rows}")
        ws.reset()
        old = _finks(ws.data_dir("before"), n, window, log_dir, before.repo) if before else None
        ws.reset()
        assets = asset_backfill(ws.path, n, window, partitions_per_run, max_concurrent_runs)
        # Not raised: a backfill that held or failed a day is still worth its numbers.
        assets["silver_rows_match_single_run"] = assets["silver_rows"] == rows
        steps = finks.report["steps_s"]
        transform_s = steps.get("silver_bars_1m", 0) + steps.get("finks_dbt", 0)
        result = {
            "tickers": n, "days": days, "bars": rows,
            "asset_backfill": {"name": "Finks asset backfill (`dagster dev` daemon, "
                                       f"{assets['partitions_per_run']}-day bronze/silver runs, "
                                       f"{assets['max_concurrent_runs']} runs at once)",
                               **assets},
            "finks": _run_row("Finks single run (in process: bronze->silver->gold)", finks),
            "baseline": _row("plain DuckDB SQL (dedup + silver Parquet + daily rollup)", duck,
                             rows, phases_s={k: round(v, 2)
                                             for k, v in duck.report["phases_s"].items()}),
            "ratio_end_to_end": round(assets["wall_s"] / duck.wall_s, 2),
            "ratio_single_run_end_to_end": round(finks.wall_s / duck.wall_s, 2),
            "ratio_transform": round(transform_s / duck.wall_s, 2),
            "transform_s": round(transform_s, 2),
            "ratio_asset_vs_single_run": round(assets["wall_s"] / finks.wall_s, 2),
        }
        if old is not None:
            if old.report["silver_rows"] != rows:
                raise AssertionError(f"before: rows {old.report['silver_rows']} != {rows}")
            result["before"] = _run_row(f"{before.label} single run (in process)", old)
            result["ratio_asset_vs_before_single_run"] = round(assets["wall_s"] / old.wall_s, 2)
        return result
    finally:
        ws.cleanup()


def _median_run(name: str, runs: list[Measurement]) -> dict[str, Any]:
    """The row of the median run (by wall time) of ``runs``, with every wall time listed."""
    ordered = sorted(runs, key=lambda m: m.wall_s)
    row = _run_row(name, ordered[(len(ordered) - 1) // 2])
    row["wall_s"] = round(statistics.median(m.wall_s for m in runs), 2)
    row["walls_s"] = [round(m.wall_s, 2) for m in runs]
    return row


def increment(root: Path, n: int, log_dir: Path, before: Before | None = None,
              rounds: int = 1) -> dict[str, Any]:
    """Scenario 2: the after-close run (one partition: bronze -> silver -> gold) for n tickers
    and for one ticker. Each round starts a fresh lake with the day before (``cold``: dbt parses
    the project in full, because its saved parse is keyed to the warehouse path) and then runs
    the day itself on that lake (``warm``: what a deployment's daily run pays). With
    ``before``, today's code alternates with this one in every round. Rows show the median."""
    ws = Workspace(root, f"increment-{n}")
    days = session_window(2)
    runs: dict[tuple[str, str, int], list[Measurement]] = {}
    try:
        for _ in range(rounds):
            for size in (1, n):
                for label, repo in (("new", REPO), *((("before", before.repo),) if before else ())):
                    data_dir = ws.data_dir(f"{label}-{size}")
                    for kind, day in (("cold", days[:1]), ("warm", days[1:])):
                        m = _finks(data_dir, size, day, log_dir, repo)
                        runs.setdefault((kind, label, size), []).append(m)
                    ws.reset()
        rows = {kind: {f"{label}_{'one' if size == 1 else 'many'}": _median_run(
                    f"{before.label if label == 'before' else 'new'}: {size} "
                    f"ticker{'s' if size > 1 else ''}, {kind}", ms)
                    for (k, label, size), ms in runs.items() if k == kind}
                for kind in ("cold", "warm")}
        result: dict[str, Any] = {
            "day": days[1].isoformat(), "cold_day": days[0].isoformat(), "tickers": n,
            "rounds": rounds, "runs": rows["warm"], "cold_runs": rows["cold"],
            "ratio": round(rows["warm"]["new_many"]["wall_s"]
                           / rows["warm"]["new_one"]["wall_s"], 2)}
        if before:
            for kind in ("warm", "cold"):
                for size in ("one", "many"):
                    result[f"ratio_new_vs_before_{size}_{kind}"] = round(
                        rows[kind][f"new_{size}"]["wall_s"]
                        / rows[kind][f"before_{size}"]["wall_s"], 2)
        return result
    finally:
        ws.cleanup()


def _snapshot(lake: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(lake)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in lake.rglob("*.parquet")}


def _gold_rows(data_dir: str) -> int:
    con = duckdb.connect(str(Path(data_dir) / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute("select count(*) from gold.fct_daily_bars").fetchone()[0]
    finally:
        con.close()


def reingest(root: Path, n: int, days: int, history: int, reloads: int,
             log_dir: Path) -> dict[str, Any]:
    """Scenario 3: re-load the last ``days`` sessions ``reloads`` times over older history."""
    ws = Workspace(root, f"reingest-{n}")
    sessions = session_window(days + history)
    older, window = sessions[:history], sessions[history:]
    data_dir = ws.data_dir("finks")
    lake = Path(data_dir) / "lake"
    # The run's partitions: the window's sessions (holidays are not partitions).
    window_keys = {f"trade_date={d.isoformat()}" for d in window}
    try:
        _finks(data_dir, n, older, log_dir)
        loads = []
        for i in range(reloads + 1):
            before = _snapshot(lake)
            m = _finks(data_dir, n, window, log_dir, refetch=True)
            after = _snapshot(lake)
            changed = [p for p, stat in after.items() if before.get(p) != stat]
            outside = [p for p in changed if not any(k in p for k in window_keys)]
            loads.append({
                "load": "first" if i == 0 else f"reload {i}", "wall_s": round(m.wall_s, 2),
                "peak_rss_mb": round(m.peak_rss_mb),
                "silver_rows": m.report["silver_rows"], "gold_rows": _gold_rows(data_dir),
                "bytes_written": sum(after[p][0] for p in changed),
                "bytes_written_by_layer": {
                    layer: sum(after[p][0] for p in changed if p.startswith(layer))
                    for layer in ("bronze", "audit", "silver")
                },
                "files_changed_outside_window": len(outside),
                "outside_examples": outside[:5],
                "steps_s": {k: round(v, 2) for k, v in m.report["steps_s"].items()},
            })
        first = loads[0]
        worst = max(loads[1:], key=lambda r: r["wall_s"]) if reloads else first
        return {
            "tickers": n, "days": days, "history_days": history, "reloads": reloads,
            "loads": loads,
            "rows_unchanged": all(r["silver_rows"] == first["silver_rows"]
                                  and r["gold_rows"] == first["gold_rows"] for r in loads),
            "ratio_worst_reload": round(worst["wall_s"] / first["wall_s"], 2),
            "ratio_last_reload": round(loads[-1]["wall_s"] / first["wall_s"], 2),
        }
    finally:
        ws.cleanup()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _asset_nodes(port: int) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": "{ assetNodes { id } }"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return len(json.loads(response.read())["data"]["assetNodes"] or [])


def _load_status(port: int) -> str:
    """The code location's load status or error, for a readiness timeout's message."""
    query = ("{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
             "locationOrLoadError { __typename ... on PythonError { message } } } } } }")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read().decode()[:1500]
    except OSError as exc:
        return f"webserver not answering ({exc})"


def dagster_dev_ready(root: Path, n: int, timeout: float = 300) -> dict[str, Any]:
    """Seconds from ``dagster dev`` start until its GraphQL API serves the asset graph."""
    ws = Workspace(root, "dagster-dev")
    (ws.path / "dagster_home").mkdir()
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(ws.path / "dagster_home"),
           "FINKS_DATA_DIR": ws.data_dir("finks"), "FINKS_UNIVERSE": ",".join(tickers(n)),
           "DAGSTER_DISABLE_TELEMETRY": "1",
           # under `dagster dev` dagster-dbt may re-parse the project and needs `dbt` on PATH
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    dagster = Path(sys.executable).parent / "dagster"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        while time.perf_counter() - started < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"dagster dev exited with {proc.returncode}")
            try:
                nodes = _asset_nodes(port)
                if nodes:
                    return {"ready_s": round(time.perf_counter() - started, 2),
                            "asset_nodes": nodes, "tickers": n}
            except (OSError, KeyError, TypeError, ValueError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"dagster dev not ready within {timeout} s: {_load_status(port)}")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        ws.cleanup()


def definitions(root: Path, n: int, log_dir: Path, before: Before | None = None,
                rounds: int = 1) -> dict[str, Any]:
    """Scenario 4: definitions load and UI readiness at n tickers, vs importing Dagster; with
    ``before``, today's load alternates with this one ``rounds`` times (medians reported)."""
    ws = Workspace(root, "definitions")
    loads: dict[str, list[Measurement]] = {"new": [], "before": []}
    try:
        floor = run_task("import_dagster", {}, log_dir=log_dir)
        for _ in range(rounds):
            for label, repo in (("new", REPO), *((("before", before.repo),) if before else ())):
                loads[label].append(run_task(
                    "definitions_load", {"data_dir": ws.data_dir("finks"), "tickers": n},
                    log_dir=log_dir, repo=repo))
    finally:
        ws.cleanup()
    ui = dagster_dev_ready(root, n)

    def median(label: str, key: str) -> float:
        return round(statistics.median(m.report[key] for m in loads[label]), 2)

    load = loads["new"][0]
    result = {
        "tickers": n, "partitions": load.report["partitions"], "assets": load.report["assets"],
        "rounds": rounds,
        "import_dagster_s": round(floor.report["total_s"], 2),
        "definitions_total_s": median("new", "total_s"),
        "definitions_totals_s": [round(m.report["total_s"], 2) for m in loads["new"]],
        "definitions_import_s": median("new", "import_s"),
        "definitions_build_s": median("new", "build_s"),
        "definitions_process_wall_s": round(statistics.median(m.wall_s for m in loads["new"]), 2),
        "definitions_peak_rss_mb": round(max(m.peak_rss_mb for m in loads["new"])),
        "ratio_vs_import_dagster": round(median("new", "total_s") / floor.report["total_s"], 2),
        "dagster_dev_ready_s": ui["ready_s"],
        "asset_nodes": ui["asset_nodes"],
    }
    if before:
        result.update({
            "before": before.label,
            "before_total_s": median("before", "total_s"),
            "before_totals_s": [round(m.report["total_s"], 2) for m in loads["before"]],
            "before_import_s": median("before", "import_s"),
            "before_build_s": median("before", "build_s"),
            "ratio_new_vs_before": round(median("new", "total_s")
                                         / median("before", "total_s"), 2),
        })
    return result


def scaling(root: Path, sizes: tuple[int, ...], days: int, log_dir: Path) -> dict[str, Any]:
    """Scenario 5: the backfill at growing ticker counts over the same window."""
    points = []
    for n in sizes:
        ws = Workspace(root, f"scaling-{n}")
        try:
            m = _finks(ws.data_dir("finks"), n, session_window(days), log_dir)
        finally:
            ws.cleanup()
        rows = m.report["silver_rows"]
        points.append({"tickers": n, "days": days, "bars": rows, "wall_s": round(m.wall_s, 2),
                       "rows_per_s": round(rows / m.wall_s), "peak_rss_mb": round(m.peak_rss_mb),
                       "steps_s": {k: round(v, 2) for k, v in m.report["steps_s"].items()}})
    base = points[0]
    for p in points:
        # >1 means the bigger run costs less per bar than the smallest one: better than linear.
        p["per_bar_efficiency_vs_smallest"] = round(
            (base["wall_s"] / base["bars"]) / (p["wall_s"] / p["bars"]), 2)
        p["time_ratio_vs_smallest"] = round(p["wall_s"] / base["wall_s"], 2)
        p["work_ratio_vs_smallest"] = round(p["bars"] / base["bars"], 2)
    return {"days": days, "points": points}
