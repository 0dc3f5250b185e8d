"""``python -m bench [--quick | --standard | --full] [--only backfill,increment,...]``

Runs the scenarios of issue 8, writes docs/benchmarks.md, docs/benchmarks.png and
docs/benchmarks.json. ``--quick`` is a smoke run of a few minutes; ``--standard`` (the default,
and what ``make bench`` runs) is sized to finish in about 15 minutes on a shared 2-core
machine; ``--full`` uses the sizes the issue names (200 tickers x 252 sessions, ...). Every
task runs in its own process with a one-hour timeout.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench import report, scenarios
from bench.measure import REPO

ORDER = ("definitions", "increment", "backfill", "reingest", "scaling")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="smoke-test sizes")
    mode.add_argument("--standard", action="store_true", help="the documented sizes (default)")
    mode.add_argument("--full", action="store_true", help="the issue's sizes")
    parser.add_argument("--only", help=f"comma list of scenarios: {','.join(ORDER)}")
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"))
    parser.add_argument("--work-dir", help="scratch directory (default: a temp dir)")
    parser.add_argument("--render-only", action="store_true",
                        help="re-render the doc and chart from the JSON next to --out "
                             "(after editing bench/findings.md)")
    parser.add_argument("--keep-others", action="store_true",
                        help="with --only: keep the other scenarios' results from the JSON "
                             "next to --out (each result carries its own measured_at)")
    parser.add_argument("--baseline-repo",
                        help="another checkout (e.g. the commit before a change) whose single-run "
                             "backfill, daily increments and definitions load are measured in "
                             "the same session, alternating with this one's")
    parser.add_argument("--partitions-per-run", type=int,
                        help="FINKS_PARTITIONS_PER_RUN for the asset backfill (default: Finks' "
                             "own, sized by the universe)")
    parser.add_argument("--max-concurrent-runs", type=int,
                        help="the asset backfill's run limit (default: dagster.yaml's)")
    parser.add_argument("--backfill-size", metavar="TICKERSxSESSIONS",
                        help="override the preset's backfill size, e.g. 20x42")
    args = parser.parse_args(argv)

    name = "full" if args.full else "quick" if args.quick else "standard"
    sizes = scenarios.PRESETS[name]
    if args.backfill_size:
        n, days = (int(x) for x in args.backfill_size.lower().split("x"))
        sizes = dataclasses.replace(sizes, backfill_tickers=n, backfill_days=days)
    only = [s.strip() for s in args.only.split(",")] if args.only else list(ORDER)
    unknown = set(only) - set(ORDER)
    if unknown:
        parser.error(f"unknown scenarios: {sorted(unknown)}")
    if not (REPO / "finks_dbt" / "target" / "manifest.json").exists():
        print("dbt manifest missing: run `make manifest` first", file=sys.stderr)
        return 2

    out = Path(args.out)
    if args.render_only:
        saved = json.loads(out.with_suffix(".json").read_text())
        report.chart(saved["results"], out.with_suffix(".png"))
        out.write_text(report.render(saved["results"], saved["machine"], saved["mode"],
                                     out.with_suffix(".png").name))
        return 0
    before = scenarios.Before.of(args.baseline_repo)
    meta = report.machine()
    meta["asset_backfill"] = {"partitions_per_run": args.partitions_per_run or "default",
                              "max_concurrent_runs": args.max_concurrent_runs or "dagster.yaml"}
    if before:
        meta["before"] = {"repo": str(before.repo), "commit": before.commit}
    results: dict[str, object] = {}
    previous = out.with_suffix(".json")
    if args.keep_others and previous.exists():
        kept = json.loads(previous.read_text())
        if kept.get("mode") != name:
            parser.error(f"{previous} holds a --{kept.get('mode')} run, not --{name}")
        results = {k: v for k, v in kept["results"].items() if k not in only}
    with tempfile.TemporaryDirectory(prefix="finks-bench-", dir=args.work_dir) as tmp:
        root = Path(tmp)
        logs = root / "logs"
        runners = {
            "definitions": lambda: scenarios.definitions(root, sizes.ui_tickers, logs, before,
                                                         sizes.definitions_rounds),
            "increment": lambda: scenarios.increment(root, sizes.increment_tickers, logs, before,
                                                     sizes.increment_rounds),
            "backfill": lambda: scenarios.backfill(root, sizes.backfill_tickers,
                                                   sizes.backfill_days, logs, before,
                                                   args.partitions_per_run,
                                                   args.max_concurrent_runs),
            "reingest": lambda: scenarios.reingest(root, sizes.reingest_tickers,
                                                   sizes.reingest_days,
                                                   sizes.reingest_history_days, sizes.reloads,
                                                   logs),
            "scaling": lambda: scenarios.scaling(root, sizes.scaling_tickers,
                                                 sizes.scaling_days, logs),
        }
        for scenario in (s for s in ORDER if s in only):
            started = time.perf_counter()
            print(f"[bench] {scenario} ...", flush=True)
            try:
                results[scenario] = runners[scenario]()
            except Exception as exc:  # one broken scenario must not lose the others' numbers
                results[scenario] = {"error": f"{type(exc).__name__}: {exc}"[-3000:]}
            results[scenario]["measured_at"] = report.machine()["date_utc"]
            print(f"[bench] {scenario} done in {time.perf_counter() - started:.0f} s: "
                  f"{json.dumps(results[scenario])[:400]}", flush=True)
            # The raw numbers after every scenario: a long run's results survive a later
            # failure (or a failure in the rendering).
            out.parent.mkdir(parents=True, exist_ok=True)
            out.with_suffix(".json").write_text(
                json.dumps({"mode": name, "machine": meta, "results": results}, indent=2) + "\n")

    chart_path = out.with_suffix(".png")
    report.chart(results, chart_path)
    out.write_text(report.render(results, meta, name, chart_path.name))
    print(f"[bench] wrote {out}, {chart_path.name}, {out.with_suffix('.json').name}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    sys.exit(main())
