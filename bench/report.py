"""Render benchmark results as docs/benchmarks.md (ratios first) and a PNG chart."""

from __future__ import annotations

import datetime as dt
import importlib.metadata as md
import os
import platform
import statistics
import subprocess
from pathlib import Path
from typing import Any

from bench.measure import REPO

FINDINGS = Path(__file__).with_name("findings.md")
PACKAGES = ("dagster", "dagster-dbt", "dbt-core", "dbt-duckdb", "duckdb", "pandas", "pyarrow",
            "numpy")


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_gb, 1),
        "os": platform.platform(), "python": platform.python_version(),
        "load_avg_at_start": [round(x, 1) for x in os.getloadavg()],
        "versions": {p: md.version(p) for p in PACKAGES},
        "git_commit": commit,
    }


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**not met**")


def _mb(value: float) -> str:
    return f"{value:,.0f} MB"


def _current(results: dict[str, Any], scenario: str, key: str) -> dict[str, Any] | None:
    """A scenario's result if it has this version's shape (``--keep-others`` may carry results
    of an older bench, which are left out of the tables rather than breaking them)."""
    result = results.get(scenario)
    return result if result and key in result else None


def headline(results: dict[str, Any]) -> list[list[str]]:
    """Rows of (scenario, measured ratio / value, target, met)."""
    rows: list[list[str]] = []
    if b := _current(results, "backfill", "asset_backfill"):
        a, f = b["asset_backfill"], b["finks"]
        rows.append(["1. Backfill: the asset backfill's status (silver rows as the single run's: "
                     f"{'yes' if a['silver_rows_match_single_run'] else 'NO'})", a["status"],
                     "COMPLETED_SUCCESS", _met(a["status"] == "COMPLETED_SUCCESS"
                                               and a["silver_rows_match_single_run"])])
        if "ratio_asset_vs_before_single_run" in b:
            rows.append([f"1. Backfill: asset backfill / {b['before']['name']}",
                         f"{b['ratio_asset_vs_before_single_run']}x", "<= 1.3x",
                         _met(b["ratio_asset_vs_before_single_run"] <= 1.3)])
        rows += [
            ["1. Backfill: asset backfill / single run of the same code",
             f"{b['ratio_asset_vs_single_run']}x", "-", "n/a"],
            ["1. Backfill: Finks asset backfill end to end / plain DuckDB (same bronze files)",
             f"{b['ratio_end_to_end']}x", "<= 1.5x", _met(b["ratio_end_to_end"] <= 1.5)],
            ["1. Backfill: Finks silver+gold steps (single run) / plain DuckDB",
             f"{b['ratio_transform']}x", "<= 1.5x", _met(b["ratio_transform"] <= 1.5)],
            ["1. Backfill throughput end to end (asset backfill)", f"{a['rows_per_s']:,} bars/s",
             ">= 5,000,000 bars/s", _met(a["rows_per_s"] >= 5_000_000)],
            ["1. Backfill peak memory (asset backfill: the whole `dagster dev` process tree)",
             _mb(a["peak_rss_mb"]), "< 4,096 MB", _met(a["peak_rss_mb"] < 4096)],
            ["1. Backfill peak memory (single run)", _mb(f["peak_rss_mb"]), "< 4,096 MB",
             _met(f["peak_rss_mb"] < 4096)],
        ]
    if i := _current(results, "increment", "cold_runs"):
        for kind, runs in (("next day, same lake", i["runs"]),
                           ("fresh lake: dbt parses in full", i["cold_runs"])):
            for size, label, target in (("many", f"{i['tickers']} tickers", 15),
                                        ("one", "1 ticker", 8)):
                new, old = runs[f"new_{size}"], runs.get(f"before_{size}")
                rows.append([f"2. Daily increment, {label} ({kind})"
                             + (f"; before: {old['wall_s']} s" if old else ""),
                             f"{new['wall_s']} s", f"< {target} s",
                             _met(new["wall_s"] < target)])
        rows.append([f"2. Daily increment: {i['tickers']} tickers / 1 ticker", f"{i['ratio']}x",
                     "-", "n/a"])
    if r := results.get("reingest"):
        rows += [
            [f"3. Re-ingest ({r['reloads']} reloads): rows unchanged",
             "yes" if r["rows_unchanged"] else "NO", "zero row change", _met(r["rows_unchanged"])],
            ["3. Re-ingest: worst reload / first load", f"{r['ratio_worst_reload']}x", "<= 1.2x",
             _met(r["ratio_worst_reload"] <= 1.2)],
            ["3. Re-ingest: median reload / first load (robust to one noisy reload)",
             f"{_median_reload_ratio(r)}x", "<= 1.2x", _met(_median_reload_ratio(r) <= 1.2)],
            ["3. Re-ingest: silver step, last reload / first load (growth with retained fetches)",
             f"{_step_ratio(r, 'silver_bars_1m')}x", "-", "n/a"],
            ["3. Re-ingest: files rewritten outside the window",
             str(max(x["files_changed_outside_window"] for x in r["loads"])), "0",
             _met(all(x["files_changed_outside_window"] == 0 for x in r["loads"]))],
        ]
    if d := results.get("definitions"):
        if "ratio_new_vs_before" in d:
            rows.append([f"4. Definitions import + load / {d['before']} (median of "
                         f"{d['rounds']} alternating loads each)",
                         f"{d['ratio_new_vs_before']}x", "<= 1.1x",
                         _met(d["ratio_new_vs_before"] <= 1.1)])
        rows += [
            ["4. Definitions import + load / `import dagster`",
             f"{d['ratio_vs_import_dagster']}x", "-", "n/a"],
            [f"4. Definitions import + load ({d['tickers']} tickers, {d['partitions']} partitions)",
             f"{d['definitions_total_s']} s", "< 3 s", _met(d["definitions_total_s"] < 3)],
            ["4. `dagster dev` ready (asset graph served)", f"{d['dagster_dev_ready_s']} s",
             "< 30 s", _met(d["dagster_dev_ready_s"] < 30)],
        ]
    if s := results.get("scaling"):
        last = s["points"][-1]
        rows.append([
            f"5. Scaling {s['points'][0]['tickers']} -> {last['tickers']} tickers: time ratio / "
            "work ratio", f"{last['time_ratio_vs_smallest']}x / {last['work_ratio_vs_smallest']}x",
            "time ratio <= work ratio (linear or better)",
            _met(last["time_ratio_vs_smallest"] <= last["work_ratio_vs_smallest"] * 1.05)])
    return rows


def _median_reload_ratio(r: dict[str, Any]) -> float:
    walls = [x["wall_s"] for x in r["loads"]]
    return round(statistics.median(walls[1:]) / walls[0], 2) if len(walls) > 1 else 1.0


def _step_ratio(r: dict[str, Any], step: str) -> float:
    first, last = r["loads"][0]["steps_s"], r["loads"][-1]["steps_s"]
    return round(last[step] / first[step], 2) if first.get(step) and step in last else float("nan")


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _steps(steps: dict[str, float]) -> str:
    names = {"bronze__bars_1m": "bronze", "silver_bars_1m": "silver", "finks_dbt": "dbt"}
    return ", ".join(f"{names.get(k, k)} {v}s" for k, v in steps.items())


def _run_detail(x: dict[str, Any]) -> str:
    """Import, steps, and the rest of the run (Dagster's own work) of a single-run row."""
    dagster = f"; Dagster outside the steps {x['dagster_s']}s" if "dagster_s" in x else ""
    walls = f"; walls {x['walls_s']}" if len(x.get("walls_s", [])) > 1 else ""
    return f"imports {x['import_s']}s; steps: {_steps(x['steps_s'])}{dagster}{walls}"


def _asset_backfill(a: dict[str, Any]) -> str:
    """The asset backfill's runs: when each ran, relative to the launch."""
    rows = [[r["partitions"], r["assets"], r["status"], r["start_s"], r["end_s"]]
            for r in a["runs"]]
    failed = (f" Failed steps: {', '.join(a['failed_steps'])}." if a["failed_steps"] else "")
    return (f"Asset backfill runs ({a['run_count']} runs, {a['partitions']} partitions x "
            f"{a['assets']} assets; {a['other_runs']} other runs in the instance). Seconds after "
            f"the launch; the last run ended at {a['runs_done_s']} s and the daemon marked the "
            f"backfill complete {a['marked_complete_after_last_run_s']} s later (it looks every "
            f"30 s). `dagster dev` took {a['dagster_dev_ready_s']} s to be ready (not counted) "
            f"and held {a['idle_rss_mb']:,} MB idle.{failed}\n\n"
            + _table(["partitions", "assets", "status", "start", "end"], rows))


def absolute(results: dict[str, Any]) -> str:
    parts: list[str] = []
    head = ["run", "wall", "rows", "rows/s", "peak RSS", "detail"]
    if b := _current(results, "backfill", "asset_backfill"):
        a, d = b["asset_backfill"], b["baseline"]
        singles = [b["finks"], *([b["before"]] if "before" in b else [])]
        parts.append(f"### 1. Backfill: {b['tickers']} tickers x {b['days']} sessions "
                     f"({b['bars']:,} bars)\n\n" + _table(head, [
                         [a["name"], f"{a['wall_s']} s", f"{a['silver_rows']:,}",
                          f"{a['rows_per_s']:,}", _mb(a["peak_rss_mb"]),
                          f"step seconds summed over the runs: {_steps(a['steps_s'])}"],
                         *[[x["name"], f"{x['wall_s']} s", f"{x['rows']:,}",
                            f"{x['rows_per_s']:,}", _mb(x["peak_rss_mb"]), _run_detail(x)]
                           for x in singles],
                         [d["name"], f"{d['wall_s']} s", f"{d['rows']:,}", f"{d['rows_per_s']:,}",
                          _mb(d["peak_rss_mb"]),
                          ", ".join(f"{k} {v}s" for k, v in d["phases_s"].items())],
                     ]) + "\n\n" + _asset_backfill(a))
    if i := _current(results, "increment", "cold_runs"):
        rows = [[x["name"], f"{x['wall_s']} s", f"{x['rows']:,}", f"{x['rows_per_s']:,}",
                 _mb(x["peak_rss_mb"]), _run_detail(x)]
                for x in [*i["runs"].values(), *i["cold_runs"].values()]]
        parts.append(f"### 2. Daily increment (one partition; cold: {i['cold_day']} on a fresh "
                     f"lake, warm: {i['day']} on the same lake right after; median of "
                     f"{i['rounds']} alternating rounds)\n\n" + _table(head, rows))
    if r := results.get("reingest"):
        rows = [[x["load"], f"{x['wall_s']} s", f"{x['silver_rows']:,}", f"{x['gold_rows']:,}",
                 f"{x['bytes_written'] / 2**20:,.1f} MB",
                 ", ".join(f"{k} {v / 2**20:,.1f}" for k, v in x["bytes_written_by_layer"].items()),
                 x["files_changed_outside_window"], _mb(x["peak_rss_mb"]), _steps(x["steps_s"])]
                for x in r["loads"]]
        parts.append(
            f"### 3. Overlapping re-ingest: last {r['days']} sessions x {r['tickers']} tickers, "
            f"{r['reloads']} reloads, over {r['history_days']} older sessions\n\n" + _table(
                ["load", "wall", "silver rows (all)", "gold fct_daily_bars rows",
                 "bytes written", "by layer (MB)", "files changed outside window", "peak RSS",
                 "steps"], rows))
    if d := results.get("definitions"):
        old = "before" in d

        def both(new: Any, before_key: str) -> list[Any]:
            return [new, d[before_key]] if old else [new]

        parts.append(
            f"### 4. Definitions and UI ({d['tickers']} tickers, {d['partitions']} partitions, "
            f"{d['assets']} assets; medians of {d.get('rounds', 1)} loads"
            + (", alternating with the before checkout" if old else "") + ")\n\n"
            + _table(["measure", "seconds", *([d["before"]] if old else [])], [
                ["`import dagster` (floor)", d["import_dagster_s"], *([""] if old else [])],
                ["import finks_assets.definitions",
                 *both(d["definitions_import_s"], "before_import_s")],
                ["build_definitions()", *both(d["definitions_build_s"], "before_build_s")],
                ["import + build (in process)",
                 *both(d["definitions_total_s"], "before_total_s")],
                ["every load (import + build)",
                 *both(d.get("definitions_totals_s", ""), "before_totals_s")],
                ["whole process incl. interpreter start", d["definitions_process_wall_s"],
                 *([""] if old else [])],
                ["`dagster dev` start -> asset graph served over GraphQL",
                 d["dagster_dev_ready_s"], *([""] if old else [])],
            ]))
    if s := results.get("scaling"):
        rows = [[p["tickers"], p["days"], f"{p['bars']:,}", f"{p['wall_s']} s",
                 f"{p['rows_per_s']:,}", _mb(p["peak_rss_mb"]), p["time_ratio_vs_smallest"],
                 p["work_ratio_vs_smallest"], p["per_bar_efficiency_vs_smallest"],
                 _steps(p["steps_s"])] for p in s["points"]]
        parts.append(f"### 5. Scaling curve ({s['days']} sessions each)\n\n" + _table(
            ["tickers", "sessions", "bars", "wall", "bars/s", "peak RSS", "time ratio",
             "work ratio", "per-bar efficiency", "steps"], rows))
    return "\n\n".join(parts)


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = ok(results)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    if s := results.get("scaling"):
        bars = [p["bars"] / 1e6 for p in s["points"]]
        walls = [p["wall_s"] for p in s["points"]]
        ax = axes[0]
        ax.plot(bars, walls, "o-", label="Finks end to end")
        ax.plot(bars, [walls[0] * b / bars[0] for b in bars], "--", color="grey",
                label="linear from smallest")
        for p, x, y in zip(s["points"], bars, walls, strict=True):
            ax.annotate(f"{p['tickers']} tickers", (x, y), textcoords="offset points",
                        xytext=(4, -10), fontsize=8)
        ax.set(xlabel="million bars", ylabel="wall seconds",
               title=f"Scaling ({s['days']} sessions)")
        ax.legend()
    if b := _current(results, "backfill", "asset_backfill"):
        ax = axes[1]
        steps = b["finks"]["steps_s"]
        bottom = 0.0
        other = b["finks"]["wall_s"] - sum(steps.values())
        for name, value in [("outside the steps", other), *steps.items()]:
            ax.bar("single run", value, bottom=bottom, label=name)
            bottom += value
        ax.bar("asset backfill", b["asset_backfill"]["wall_s"], color="tab:purple",
               label="asset backfill (launch -> complete)")
        if "before" in b:
            ax.bar("before:\nsingle run", b["before"]["wall_s"], color="grey",
                   label="single run before")
        ax.bar("DuckDB", b["baseline"]["wall_s"], color="black", label="plain DuckDB")
        ax.set(ylabel="wall seconds",
               title=f"Backfill {b['tickers']}x{b['days']} ({b['bars'] / 1e6:.1f}M bars)")
        ax.legend(fontsize=7)
    if r := results.get("reingest"):
        ax = axes[2]
        ax.bar([x["load"].replace("reload ", "r") for x in r["loads"]],
               [x["wall_s"] for x in r["loads"]])
        ax.axhline(r["loads"][0]["wall_s"] * 1.2, color="red", linestyle="--",
                   label="1.2x first load")
        ax.set(ylabel="wall seconds", title=f"Re-ingest last {r['days']} sessions")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _errors(results: dict[str, Any]) -> str:
    failed = {k: v["error"] for k, v in results.items() if "error" in v}
    if not failed:
        return ""
    lines = ["## Scenarios that failed in this run", ""]
    lines += [f"* **{name}**: `{error.splitlines()[-1][:500]}`" for name, error in failed.items()]
    return "\n".join(lines) + "\n"


def ok(results: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in results.items() if "error" not in v}


def _setup(meta: dict[str, Any]) -> str:
    """What the asset backfill ran with, and the checkout measured as "before"."""
    lines = []
    if a := meta.get("asset_backfill"):
        lines.append(f"* Asset backfill: FINKS_PARTITIONS_PER_RUN={a['partitions_per_run']}, "
                     f"max_concurrent_runs={a['max_concurrent_runs']}")
    if b := meta.get("before"):
        lines.append(f"* Before: commit `{b['commit']}` ({b['repo']}), run with the same venv")
    return "".join(f"{line}\n" for line in lines)


def render(results: dict[str, Any], meta: dict[str, Any], mode: str, chart_name: str) -> str:
    findings = FINDINGS.read_text().strip() if FINDINGS.exists() else ""
    errors = _errors(results)
    stamps = ", ".join(f"{k} {v.get('measured_at', '?')}" for k, v in results.items())
    results = ok(results)
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    return f"""# Benchmarks

Generated by `make bench` (`python -m bench --{mode}`); do not edit by hand: edit
`bench/findings.md` for the commentary. Raw numbers: `docs/benchmarks.json`.

* Date: {meta['date_utc']}, commit `{meta['git_commit']}`, mode `--{mode}`
* Machine: {meta['cpu']}, {meta['cores']} cores, {meta['memory_gb']} GB RAM, {meta['os']}
  (load average at start {meta['load_avg_at_start']}: the cores are shared, so absolute times
  are noisy; each ratio compares two runs made minutes apart in the same session)
* Python {meta['python']}; {versions}
{_setup(meta)}* Each scenario finished at: {stamps}

Every measurement is a fresh process (imports included, as a user pays them). Peak memory is
the largest sum of resident set sizes over the process tree (Dagster + the dbt child),
sampled every 50 ms. The asset backfill is launched as the UI launches it
(`launchPartitionBackfill` on a fresh `dagster dev` with the repo's `dagster.yaml`) and timed
from the launch until the daemon marks it complete; its peak memory covers the whole
`dagster dev` tree (webserver, daemon, code server, run workers, dbt).

## Headline: ratios against the baseline of the same run

{_table(["scenario", "measured", "target", "status"], headline(results))}

![benchmarks]({chart_name})

{errors}
## Absolute numbers

{absolute(results)}

{findings}
"""
