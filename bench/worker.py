"""The tasks the benchmark measures, each run in its own process by ``bench.measure``.

``python -m bench.worker <task> '<json args>' <report.json>``; the task writes what it
observed from the inside (rows, per-step times) to ``report.json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

BRONZE_GLOB = "bronze/source=synthetic/dataset=bars_1m/trade_date=*/[!.]*.parquet"
SILVER_GLOB = "silver/bars_1m/trade_date=*/[!.]*.parquet"


def tickers(count: int) -> list[str]:
    """Synthetic, valid ticker symbols T0000, T0001, ..."""
    return [f"T{i:04d}" for i in range(count)]


def _settings(data_dir: str, universe_size: int):
    from finks_assets.lib.settings import FinksSettings

    return FinksSettings.from_env(
        {"FINKS_DATA_DIR": data_dir, "FINKS_UNIVERSE": ",".join(tickers(universe_size))}
    )


def finks_range(args: dict[str, Any]) -> dict[str, Any]:
    """One single-run Dagster backfill bronze -> silver -> gold over [first, last]."""
    started = time.perf_counter()
    import dagster as dg

    from finks_assets.cli.main import run_range

    settings = _settings(args["data_dir"], args["tickers"])
    imported = time.perf_counter()
    with dg.DagsterInstance.ephemeral() as instance:
        # refetch: a re-load fetches again what bronze holds (the fetch planner would skip it).
        extra = {"refetch": True} if args.get("refetch") else {}
        result = run_range(settings, args["first"], args["last"], instance=instance, **extra)
        steps: dict[str, float] = {}
        starts: dict[str, float] = {}
        for entry in instance.all_logs(result.run_id):
            event = entry.dagster_event
            if event is None or event.step_key is None:
                continue
            if event.event_type_value == "STEP_START":
                starts[event.step_key] = entry.timestamp
            elif event.event_type_value == "STEP_SUCCESS":
                steps[event.step_key] = entry.timestamp - starts[event.step_key]
    if not result.success:
        raise SystemExit(f"run {result.run_id} failed")
    return {
        "import_s": imported - started,
        "run_s": time.perf_counter() - imported,
        "steps_s": steps,
        "silver_rows": count_rows(Path(args["data_dir"]) / "lake" / SILVER_GLOB),
        "module": _module_file(),
    }


def count_rows(glob: Path) -> int:
    """Rows of the Parquet files matching ``glob``."""
    import duckdb

    return duckdb.sql("select count(*) from read_parquet(?)", params=[str(glob)]).fetchone()[0]


BASELINE_SQL = {
    # Latest fetch wins on (ticker, ts), exactly the silver rule, as one window query.
    "dedup": """
        create table silver as
        select _ticker as ticker, ts, open, high, low, close, volume, _fetched_at as ingested_at,
               trade_date
        from read_parquet($glob, hive_partitioning = true)
        where trade_date between cast($first as date) and cast($last as date)
        qualify row_number() over (partition by _ticker, ts order by _fetched_at desc) = 1
    """,
    "write_silver": """
        copy (select * from silver order by trade_date, ticker, ts)
        to '{out}' (format parquet, partition_by (trade_date), compression zstd,
                    overwrite_or_ignore true)
    """,
    # The gold daily rollup (int_bars_1m__daily_rollup / fct_daily_bars).
    "rollup": """
        create table fct_daily_bars as
        select ticker, trade_date, min_by(open, ts) as open, max(high) as high, min(low) as low,
               max_by(close, ts) as close, cast(sum(volume) as bigint) as volume,
               sum(close * volume) / nullif(sum(volume), 0) as vwap, count(*) as bar_count,
               min(ts) as first_bar_ts, max(ts) as last_bar_ts
        from silver group by ticker, trade_date
    """,
}


def duckdb_baseline(args: dict[str, Any]) -> dict[str, Any]:
    """The same transformations as plain DuckDB SQL over the same bronze files, 2 threads."""
    started = time.perf_counter()
    import duckdb

    out = Path(args["out_dir"])
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(out / "baseline.duckdb"), config={"threads": args.get("threads", 2)})
    con.execute("set TimeZone = 'UTC'")
    params = {"glob": str(Path(args["lake_root"]) / BRONZE_GLOB),
              "first": args["first"], "last": args["last"]}
    phases: dict[str, float] = {}
    for name, sql in BASELINE_SQL.items():
        t0 = time.perf_counter()
        if name == "write_silver":
            con.execute(sql.format(out=str(out / "silver").replace("'", "''")))
        else:
            con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})
        phases[name] = time.perf_counter() - t0
    rows = con.execute("select count(*) from silver").fetchone()[0]
    days = con.execute("select count(*) from fct_daily_bars").fetchone()[0]
    con.close()
    return {"phases_s": phases, "silver_rows": rows, "daily_rows": days,
            "total_s": time.perf_counter() - started}


def definitions_load(args: dict[str, Any]) -> dict[str, Any]:
    """Import + build the Definitions (what every code-server start pays)."""
    started = time.perf_counter()
    from finks_assets.definitions import build_definitions

    imported = time.perf_counter()
    settings = _settings(args["data_dir"], args["tickers"])
    defs = build_definitions(settings)
    repo = defs.get_repository_def()
    assets = len(list(repo.asset_graph.get_all_asset_keys()))
    from finks_assets.lib.partitions import trading_days

    partitions = len(trading_days.get_partition_keys())
    return {"import_s": imported - started, "build_s": time.perf_counter() - imported,
            "total_s": time.perf_counter() - started, "assets": assets, "partitions": partitions,
            "module": _module_file()}


def _module_file() -> str:
    """Which checkout's ``finks_assets`` the task ran (the bench also runs a baseline one)."""
    import finks_assets

    return str(Path(finks_assets.__file__).parent)


def import_dagster(_args: dict[str, Any]) -> dict[str, Any]:
    """The floor: importing Dagster itself."""
    started = time.perf_counter()
    import dagster  # noqa: F401

    return {"total_s": time.perf_counter() - started}


TASKS = {
    "finks_range": finks_range,
    "duckdb_baseline": duckdb_baseline,
    "definitions_load": definitions_load,
    "import_dagster": import_dagster,
}


def main() -> None:
    task, args, out = sys.argv[1], json.loads(sys.argv[2]), Path(sys.argv[3])
    out.write_text(json.dumps(TASKS[task](args)))


if __name__ == "__main__":
    main()
