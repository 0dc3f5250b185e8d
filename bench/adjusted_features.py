"""What the corporate-action models cost the daily gold increment (adjusted features vs the daily increment).

Builds a lake once with the real pipeline (synthetic source, ``--tickers`` x ``--days``), then
times ``dbt build`` of the gold project for the window of the last day, as Dagster runs it
(no unit tests), on a copy of the warehouse, in two project trees:

* ``current``: finks_dbt as it is (fct_adjustment_factors, fct_daily_bars_adjusted, features on
  adjusted closes, stg_silver__corporate_actions and their tests);
* ``baseline``: a copy of finks_dbt without those models and with fct_daily_features as in git
  HEAD (raw closes).

Usage: ``python -m bench.adjusted_features --tickers 500 --days 2 --repeat 3``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from finks_assets.lib import market_calendar

REPO = Path(__file__).resolve().parents[1]
NEW_FILES = ("models/marts/prices/fct_adjustment_factors.sql",
             "models/marts/prices/fct_daily_bars_adjusted.sql",
             "models/staging/corporate_actions", "analyses/adjusted_bars_as_of.sql",
             "macros/adjustment_factors.sql", "macros/adjusted_bars_as_of.sql",
             "macros/incremental/replace_all.sql")
FEATURES = "models/marts/prices/fct_daily_features.sql"


def build_lake(root: Path, tickers: int, days: int) -> tuple[str, str]:
    from finks_assets.cli.main import run_range
    from finks_assets.lib.settings import FinksSettings

    universe = ",".join(f"T{i:04d}" for i in range(tickers))
    settings = FinksSettings.from_env({"FINKS_DATA_DIR": str(root), "FINKS_UNIVERSE": universe})
    sessions = market_calendar.last_completed_sessions(days)
    first, last = sessions[0].date.isoformat(), sessions[-1].date.isoformat()
    result = run_range(settings, first, last)
    if not result.success:
        raise SystemExit("pipeline run failed")
    return first, last


def baseline_project(target: Path) -> Path:
    shutil.copytree(REPO / "finks_dbt", target, ignore=shutil.ignore_patterns("target", "logs"))
    for name in NEW_FILES:
        path = target / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    old = subprocess.run(["git", "show", f"HEAD:finks_dbt/{FEATURES}"], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    (target / FEATURES).write_text(old)
    yml = target / "models/marts/prices/_prices__models.yml"
    text = yml.read_text()
    yml.write_text(text[:text.index("\n  - name: fct_adjustment_factors")] + "\n")
    return target


class Build:
    """``dbt build`` of one project tree on its own copy of the warehouse, window = one day."""

    def __init__(self, project: Path, data_dir: Path, warehouse: Path, day: str, scratch: Path):
        self.env = {**os.environ, "FINKS_DATA_DIR": str(data_dir),
                    "FINKS_WAREHOUSE_PATH": str(warehouse),
                    "FINKS_DBT_LAKE_ROOT": str(data_dir / "lake"), "FINKS_DBT_START_DATE": day,
                    "FINKS_DBT_END_DATE": day, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        self.dbt = [str(Path(sys.executable).parent / "dbt"), "--quiet"]
        self.common = ["--project-dir", str(project), "--profiles-dir", str(project),
                       "--target-path", str(scratch / "target"), "--log-path", str(scratch / "logs")]
        # parse, and a first build creating the tables: neither is the daily increment
        subprocess.run([*self.dbt, "parse", *self.common], env=self.env, check=True)
        self.run()

    def run(self) -> float:
        started = time.perf_counter()
        subprocess.run([*self.dbt, "build", *self.common, "--exclude-resource-type", "unit_test"],
                       env=self.env, check=True)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickers", type=int, default=500)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="finks-bench-adj-") as tmp:
        root = Path(tmp)
        data_dir = root / "finks"
        started = time.perf_counter()
        _, last = build_lake(data_dir, args.tickers, args.days)
        lake_seconds = time.perf_counter() - started
        builds = {name: Build(project, data_dir, root / f"{name}.duckdb", last, root / f"{name}_run")
                  for name, project in (("baseline", baseline_project(root / "baseline_dbt")),
                                        ("current", REPO / "finks_dbt"))}
        results: dict[str, list[float]] = {name: [] for name in builds}
        for _ in range(args.repeat):  # interleaved, so load drift on a shared box hits both
            for name, build in builds.items():
                results[name].append(build.run())
        base, current = (statistics.median(results[n]) for n in ("baseline", "current"))
        print(json.dumps({"tickers": args.tickers, "days": args.days, "lake_build_s": lake_seconds,
                          "baseline_s": results["baseline"], "current_s": results["current"],
                          "median_overhead": current / base - 1}, indent=2))


if __name__ == "__main__":
    main()
