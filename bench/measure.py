"""Run one benchmark task in a fresh Python process and measure it from the outside.

Every measurement is its own process so that peak memory belongs to that task alone (and
imports are paid every time, as a user pays them). Peak memory is the largest *sum* of the
resident set sizes of the process tree (the worker and e.g. the ``dbt`` child it spawns),
sampled every 50 ms with psutil.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
SAMPLE_SECONDS = 0.05


@dataclass
class Measurement:
    """Outside view (wall, peak RSS) plus what the worker reported about its own work."""

    wall_s: float
    peak_rss_mb: float
    report: dict[str, Any] = field(default_factory=dict)


def _tree_rss(proc: psutil.Process, include_root: bool = True) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)][0 if include_root else 1:]:
        try:
            total += p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


class PeakRss:
    """Samples the RSS of a process tree on a thread until stopped; ``include_root=False``
    leaves the root out (the bench process measuring the servers it started)."""

    def __init__(self, pid: int, include_root: bool = True,
                 interval_s: float = SAMPLE_SECONDS) -> None:
        self.proc = psutil.Process(pid)
        self.include_root = include_root
        self.interval_s = interval_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, _tree_rss(self.proc, self.include_root))
            except psutil.NoSuchProcess:
                return
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def checkout_env(repo: Path) -> dict[str, str]:
    """Environment that makes a Python process import ``repo``'s packages (``bench``,
    ``finks_assets``) before the editable install of this checkout, with the same venv."""
    if repo.resolve() == REPO:
        return {}
    return {"PYTHONPATH": os.pathsep.join(
        [str(repo.resolve()), *filter(None, [os.environ.get("PYTHONPATH")])])}


def run_task(task: str, args: dict[str, Any], env: dict[str, str] | None = None,
             timeout: float = 3600, log_dir: Path | None = None,
             repo: Path = REPO) -> Measurement:
    """Run ``python -m bench.worker <task>`` and return its measurement; raise on failure.

    ``repo`` is the checkout whose ``bench.worker`` (and so ``finks_assets``) runs: another
    checkout measures the code as it was, in the same session and with the same venv."""
    with tempfile.TemporaryDirectory(prefix="finks-bench-") as tmp:
        out = Path(tmp) / "report.json"
        log = (log_dir or Path(tmp)) / f"{task}-{int(time.time() * 1000)}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        child_env = {**os.environ, "DAGSTER_DISABLE_TELEMETRY": "1",
                     "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **checkout_env(repo),
                     **(env or {})}
        with open(log, "wb") as log_file:
            started = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.worker", task, json.dumps(args), str(out)],
                cwd=repo, env=child_env, stdout=log_file, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            with PeakRss(proc.pid) as rss:
                try:
                    code = proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
                    proc.wait()
                    raise
            wall = time.perf_counter() - started
        if code != 0 or not out.exists():
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"bench task {task} failed (exit {code}):\n{tail}")
        return Measurement(wall_s=wall, peak_rss_mb=rss.peak / 2**20,
                           report=json.loads(out.read_text()))
