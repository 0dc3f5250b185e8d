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
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from bench.measure import REPO, Measurement, run_task
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


# quick: a smoke run in minutes. standard: what `make bench` runs and docs/benchmarks.md shows,
# sized to finish in ~15 min on the shared 2-core machine. full: the sizes the issue names.
QUICK = Sizes(20, 21, 100, 20, 7, 5, 3, (5, 10, 20, 40), 10, 500)
STANDARD = Sizes(100, 63, 500, 200, 7, 10, 10, (50, 100, 200, 500), 5, 500)
FULL = Sizes(200, 252, 500, 200, 7, 10, 10, (50, 100, 200, 500), 63, 500)
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


def _finks(data_dir: str, n: int, days: list[dt.date], log_dir: Path) -> Measurement:
    return run_task("finks_range", {"data_dir": data_dir, "tickers": n,
                                    "first": days[0].isoformat(), "last": days[-1].isoformat()},
                    log_dir=log_dir)


def _baseline(data_dir: str, out_dir: str, days: list[dt.date], log_dir: Path) -> Measurement:
    return run_task("duckdb_baseline", {"lake_root": str(Path(data_dir) / "lake"),
                                        "out_dir": out_dir, "first": days[0].isoformat(),
                                        "last": days[-1].isoformat()}, log_dir=log_dir)


def _row(name: str, m: Measurement, rows: int, **extra: Any) -> dict[str, Any]:
    return {"name": name, "wall_s": round(m.wall_s, 2), "rows": rows,
            "rows_per_s": round(rows / m.wall_s) if m.wall_s else None,
            "peak_rss_mb": round(m.peak_rss_mb), **extra}


def backfill(root: Path, n: int, days: int, log_dir: Path) -> dict[str, Any]:
    """Scenario 1: Finks' single-run backfill vs plain DuckDB over the bronze it wrote."""
    ws = Workspace(root, f"backfill-{n}x{days}")
    window = session_window(days)
    try:
        finks = _finks(ws.data_dir("finks"), n, window, log_dir)
        rows = finks.report["silver_rows"]
        duck = _baseline(ws.data_dir("finks"), ws.data_dir("baseline"), window, log_dir)
        if duck.report["silver_rows"] != rows:
            raise AssertionError(f"baseline rows {duck.report['silver_rows']} != finks {rows}")
        steps = finks.report["steps_s"]
        transform_s = steps.get("silver_bars_1m", 0) + steps.get("finks_dbt", 0)
        return {
            "tickers": n, "days": days, "bars": rows,
            "finks": _row("Finks (Dagster single run: bronze->silver->gold)", finks, rows,
                          steps_s={k: round(v, 2) for k, v in steps.items()},
                          import_s=round(finks.report["import_s"], 2)),
            "baseline": _row("plain DuckDB SQL (dedup + silver Parquet + daily rollup)", duck,
                             rows, phases_s={k: round(v, 2)
                                             for k, v in duck.report["phases_s"].items()}),
            "ratio_end_to_end": round(finks.wall_s / duck.wall_s, 2),
            "ratio_transform": round(transform_s / duck.wall_s, 2),
            "transform_s": round(transform_s, 2),
        }
    finally:
        ws.cleanup()


def increment(root: Path, n: int, log_dir: Path) -> dict[str, Any]:
    """Scenario 2: one new trading day for n tickers vs for one ticker (fresh lakes)."""
    ws = Workspace(root, f"increment-{n}")
    day = session_window(1)
    try:
        one = _finks(ws.data_dir("one"), 1, day, log_dir)
        many = _finks(ws.data_dir("many"), n, day, log_dir)
        return {
            "day": day[0].isoformat(), "tickers": n,
            "finks": _row(f"{n} tickers, 1 day", many, many.report["silver_rows"],
                          steps_s={k: round(v, 2) for k, v in many.report["steps_s"].items()}),
            "baseline": _row("1 ticker, 1 day", one, one.report["silver_rows"],
                             steps_s={k: round(v, 2) for k, v in one.report["steps_s"].items()}),
            "ratio": round(many.wall_s / one.wall_s, 2),
        }
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
    # The run's partitions are every weekday in the window, exchange holidays included.
    window_keys = {f"trade_date={d.date().isoformat()}"
                   for d in pd.bdate_range(window[0], window[-1])}
    try:
        _finks(data_dir, n, older, log_dir)
        loads = []
        for i in range(reloads + 1):
            before = _snapshot(lake)
            m = _finks(data_dir, n, window, log_dir)
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


def definitions(root: Path, n: int, log_dir: Path) -> dict[str, Any]:
    """Scenario 4: definitions load and UI readiness at n tickers, vs importing Dagster."""
    ws = Workspace(root, "definitions")
    try:
        floor = run_task("import_dagster", {}, log_dir=log_dir)
        load = run_task("definitions_load", {"data_dir": ws.data_dir("finks"), "tickers": n},
                        log_dir=log_dir)
    finally:
        ws.cleanup()
    ui = dagster_dev_ready(root, n)
    return {
        "tickers": n, "partitions": load.report["partitions"], "assets": load.report["assets"],
        "import_dagster_s": round(floor.report["total_s"], 2),
        "definitions_total_s": round(load.report["total_s"], 2),
        "definitions_import_s": round(load.report["import_s"], 2),
        "definitions_build_s": round(load.report["build_s"], 2),
        "definitions_process_wall_s": round(load.wall_s, 2),
        "definitions_peak_rss_mb": round(load.peak_rss_mb),
        "ratio_vs_import_dagster": round(load.report["total_s"] / floor.report["total_s"], 2),
        "dagster_dev_ready_s": ui["ready_s"],
        "asset_nodes": ui["asset_nodes"],
    }


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
