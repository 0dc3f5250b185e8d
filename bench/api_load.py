"""Load benchmark of the data API, side by side with the same query straight on DuckDB.

    python -m bench.api_load [--duration 5] [--clients 1,10,50] [--out docs/benchmarks-api.md]
                             [--mixed-clients 20] [--mixed-duration 30] [--only-mixed]
                             [--server-workers 2]

* Data: one calendar year (2024, 252 XNYS sessions) of gold for the portfolio tickers, made by
  the real pipeline (synthetic source -> bronze -> silver -> dbt) in ``--data-dir``; reused
  when that directory already holds the year.
* Server: ``finks-api serve --workers 2`` (uvicorn, one worker process per core of this
  machine; ``--server-workers``) in its own process group on a loopback port, killed at the
  end. Access logging stays on, as in production.
* Clients: threads in this process, each with its own keep-alive ``http.client`` connection,
  closed-loop (next request when the previous answer is read), for ``--duration`` seconds per
  level after a short warm-up. The direct baseline runs the same SQL with bound parameters
  from the same number of threads, each with its own DuckDB cursor, fetching all rows into
  Python (what a client of the database would do).
* Mixed profile: ``--mixed-clients`` clients (20) for ``--mixed-duration`` seconds
  (30) cycle through :data:`MIXED` -- valid pages, probes and the invalid requests a hostile or
  careless client sends (no key, an unknown key, a missing scope, bad dates, tickers, cursors,
  limits, unknown paths) -- and every answer must have the expected status. Target: p99 < 100 ms
  on an otherwise idle machine.
* Bounded: every level runs for a fixed time; the whole run takes about
  2 scenarios x 2 modes x levels x (duration + 1) seconds + the mixed profile + the pipeline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from finks_api import datasets
from finks_api.config import DEFAULT_PAGE_SIZE

REPO = Path(__file__).resolve().parents[1]
YEAR_FIRST, YEAR_LAST = "2024-01-02", "2024-12-31"
TICKERS = ("AAPL", "AMZN", "GOOGL", "JNJ", "JPM", "MSFT", "NVDA", "SPY", "XOM")  # every holding


@dataclass(frozen=True)
class Scenario:
    """One query, as an API path and as the API's own SQL (``datasets.page_query``)."""

    name: str
    path: str
    dataset: datasets.Dataset
    entities: tuple[str, ...] | None
    start: dt.date = dt.date(2024, 1, 1)
    end: dt.date = dt.date(2024, 12, 31)

    def sql(self, con: duckdb.DuckDBPyConnection) -> tuple[str, list[object]]:
        """Exactly the statement the API executes for ``path`` (same SQL, same parameters)."""
        request = datasets.PageRequest(
            entities=self.entities, start=self.start, end=self.end, limit=DEFAULT_PAGE_SIZE
        )
        schema = datasets.table_schema(con, self.dataset.table)
        return datasets.page_query(self.dataset, schema, request, as_json=True)


SCENARIOS = (
    Scenario(
        name="daily bars, 1 ticker x 1 year",
        path="/v1/daily-bars/AAPL?start=2024-01-01&end=2024-12-31",
        dataset=datasets.DAILY_BARS,
        entities=("AAPL",),
    ),
    Scenario(
        name="portfolio summary, 1 year (2 portfolios)",
        path="/v1/portfolio-summary?start=2024-01-01&end=2024-12-31",
        dataset=datasets.PORTFOLIO_SUMMARY,
        entities=None,
    ),
)


@dataclass(frozen=True)
class MixedRequest:
    """One request of the mixed profile: the path, which key it sends, the status it must get."""

    path: str
    key: str  # "all", "prices" (no portfolio scope), "unknown" (well-formed, never issued), "none"
    status: int


UNKNOWN_KEY = "fk_" + "0" * 12 + "_" + "A" * 43
MIXED = (
    MixedRequest("/v1/daily-bars/AAPL?start=2024-01-01&end=2024-12-31", "all", 200),
    MixedRequest("/v1/portfolio-summary?start=2024-01-01&end=2024-12-31", "all", 200),
    MixedRequest("/v1/daily-bars?tickers=MSFT,NVDA&start=2024-06-01&end=2024-06-30", "all", 200),
    MixedRequest("/v1/daily-features?tickers=SPY&start=2024-10-01", "all", 200),
    MixedRequest("/v1/freshness", "all", 200),
    MixedRequest("/healthz", "none", 200),
    MixedRequest("/v1/daily-bars/AAPL", "none", 401),
    MixedRequest("/v1/daily-bars/AAPL", "unknown", 401),
    MixedRequest("/v1/portfolio-summary", "prices", 403),
    MixedRequest("/v1/daily-bars?start=0", "all", 422),
    MixedRequest("/v1/daily-bars?start=1764547200&end=2024-13-01", "all", 422),
    MixedRequest("/v1/daily-bars/A%3BDROP%20TABLE", "all", 422),
    MixedRequest("/v1/daily-bars?cursor=bm90LWEtY3Vyc29y", "all", 422),
    MixedRequest("/v1/daily-bars?limit=1000000", "all", 422),
    MixedRequest("/v1/no-such-route", "all", 404),
    MixedRequest("/healthz%0akey_id=forged", "none", 404),
)
MIXED_SCENARIO = "mixed valid/invalid (16 kinds, 6 valid)"


@dataclass
class Result:
    scenario: str
    mode: str
    clients: int
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds


def build_year(data_dir: Path) -> tuple[Path, float | None]:
    """Gold for 2024 via the real pipeline; returns the warehouse and the build time (None: reused)."""
    from finks_assets.cli.main import run_range
    from finks_assets.lib.settings import FinksSettings

    settings = FinksSettings.from_env(
        {"FINKS_DATA_DIR": str(data_dir), "FINKS_UNIVERSE": ",".join(TICKERS)}
    )
    if settings.warehouse_path.exists():
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            (days,) = con.execute(
                "select count(distinct trade_date) from gold.fct_daily_bars "
                "where trade_date between ? and ?", [YEAR_FIRST, YEAR_LAST]
            ).fetchone()
        if days == 252:
            return settings.warehouse_path, None
    started = time.perf_counter()
    result = run_range(settings, YEAR_FIRST, YEAR_LAST)
    if not result.success:
        raise SystemExit("pipeline run for the benchmark year failed")
    return settings.warehouse_path, time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(data_dir: Path, port: int, extra: tuple[str, ...] = ()) -> subprocess.Popen:
    env = {**os.environ, "FINKS_DATA_DIR": str(data_dir), "FINKS_UNIVERSE": ",".join(TICKERS),
           "PYTHONPATH": str(REPO)}
    log = open(data_dir / "api-bench-server.log", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "finks_api.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
         *extra],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    stop_server(proc)
    raise SystemExit("finks-api serve did not become ready; see api-bench-server.log")


def stop_server(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def closed_loop(clients: int, duration: float, make_worker: Callable[[], Callable[[], bool]]) -> tuple[list[float], int, float]:
    """Run ``clients`` threads, each calling its own worker until the deadline."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start_barrier = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def run(i: int) -> None:
        call = make_worker()
        start_barrier.wait()
        own = latencies[i]
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at[0]:
                break
            ok = call()
            own.append((time.perf_counter() - t0) * 1000)
            if not ok:
                errors[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + duration
    started = time.perf_counter()
    start_barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return [x for own in latencies for x in own], sum(errors), elapsed


def api_worker(port: int, key: str, scenario: Scenario, rows: int) -> Callable[[], Callable[[], bool]]:
    # The row count sits in the body's tail; finding it there keeps the load generator's own CPU
    # use low (a full json.loads per response would compete with the server for the 2 cores).
    count_marker = f'"count": {rows},'.encode()

    def make() -> Callable[[], bool]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def call() -> bool:
            conn.request("GET", scenario.path, headers={"X-API-Key": key})
            response = conn.getresponse()
            body = response.read()
            return response.status == 200 and body.rfind(count_marker, -64) != -1

        return call

    return make


def mixed_worker(port: int, keys: dict[str, str]) -> Callable[[], Callable[[], bool]]:
    """Each client walks :data:`MIXED` from its own starting point; a wrong status is an error."""
    starts = iter(range(10_000))

    def make() -> Callable[[], bool]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        position = next(starts) % len(MIXED)

        def call() -> bool:
            nonlocal position
            request = MIXED[position]
            position = (position + 1) % len(MIXED)
            headers = {"X-API-Key": keys[request.key]} if request.key in keys else {}
            conn.request("GET", request.path, headers=headers)
            response = conn.getresponse()
            response.read()
            return response.status == request.status

        return call

    return make


def duckdb_worker(con: duckdb.DuckDBPyConnection, scenario: Scenario, rows: int) -> Callable[[], Callable[[], bool]]:
    """A client of the database: its own cursor, the API's SQL, every row fetched."""
    sql, params = scenario.sql(con)

    def make() -> Callable[[], bool]:
        cur = con.cursor()

        def call() -> bool:
            return len(cur.execute(sql, params).fetchall()) == rows

        return call

    return make


def measure(label: str, scenario_name: str, mode: str, clients: int, duration: float,
            make_worker: Callable[[], Callable[[], bool]]) -> Result:
    closed_loop(clients, min(1.0, duration), make_worker)  # warm-up, discarded
    latencies, errors, elapsed = closed_loop(clients, duration, make_worker)
    result = Result(scenario_name, mode, clients, len(latencies), errors, elapsed, latencies)
    print(f"{label:<44} {mode:<7} c={clients:<3} n={result.requests:<6} "
          f"{result.throughput:8.0f} req/s  p50={result.pct(.5):6.2f}  p95={result.pct(.95):6.2f}  "
          f"p99={result.pct(.99):6.2f} ms  errors={errors}", flush=True)
    return result


def render(results: list[Result], meta: dict[str, str]) -> str:
    lines = [
        "# Data API load benchmark",
        "",
        "Produced by `make bench-api` (`python -m bench.api_load`); numbers from one run on the",
        "machine below. Closed-loop clients on loopback: each client sends its next request as",
        "soon as the previous response is read, so throughput is the server's capacity and",
        "latency grows with queueing once the server's cores are busy.",
        "",
        *[f"- {k}: {v}" for k, v in meta.items()],
        "",
        "| query | path | clients | requests | throughput (req/s) | p50 ms | p95 ms | p99 ms | p99 API / DuckDB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    direct = {(r.scenario, r.clients): r for r in results if r.mode == "duckdb"}
    for r in results:
        ratio = ""
        if r.mode == "api" and (r.scenario, r.clients) in direct:
            ratio = f"{r.pct(.99) / direct[(r.scenario, r.clients)].pct(.99):.1f}x"
        path = "HTTP API" if r.mode == "api" else "DuckDB direct"
        lines.append(
            f"| {r.scenario} | {path} | {r.clients} | {r.requests} | {r.throughput:,.0f} | "
            f"{r.pct(.5):.2f} | {r.pct(.95):.2f} | {r.pct(.99):.2f} | {ratio} |"
        )
    errors = sum(r.errors for r in results)
    lines += ["", f"Failed or wrong-sized responses across the run: {errors}.", ""]
    lines += ["## Against the targets", ""]
    target = next((r for r in results if r.mode == "api" and r.clients == 10
                   and r.scenario == SCENARIOS[0].name), None)
    if target is not None:
        baseline = direct.get((target.scenario, 10))
        ratio = target.pct(.99) / baseline.pct(.99) if baseline else float("nan")
        lines += [
            f"- p99 of one ticker-year of daily bars at 10 clients: **{target.pct(.99):.1f} ms** "
            f"(target < 50 ms: {'met' if target.pct(.99) < 50 else 'NOT met'} in this run).",
            f"- the same against direct DuckDB at 10 clients: **{ratio:.1f}x** "
            f"(target within 3x: {'met' if ratio <= 3 else 'NOT met'} in this run).",
            "",
        ]
    mixed = next((r for r in results if r.scenario == MIXED_SCENARIO), None)
    if mixed is not None:
        lines += [
            f"- p99 of the mixed valid/invalid profile at {mixed.clients} clients: "
            f"**{mixed.pct(.99):.1f} ms** at {mixed.throughput:,.0f} req/s (target < 100 ms: "
            f"{'met' if mixed.pct(.99) < 100 else 'NOT met'} in this run; "
            f"{mixed.errors} answers with an unexpected status).",
            "",
        ]
    lines += [
        "## What is measured",
        "",
        "- *HTTP API*: `GET` with `X-API-Key` over a keep-alive connection per client; the time",
        "  covers request, auth (key hash + constant-time compare), parameter validation, the",
        "  query on the API's warehouse snapshot, JSON rendering and the response body read.",
        "- *mixed*: each client cycles through 16 requests (`bench/api_load.py` `MIXED`): 6 valid",
        "  (a ticker-year, a portfolio-year, two tickers for a month, a feature filter, freshness,",
        "  healthz) and 10 refused (no key, an unknown key, a missing scope -> 401/403; Unix-time",
        "  and impossible dates, an injection-shaped ticker, a forged cursor, an oversized limit",
        "  -> 422; unknown paths, one with an encoded newline -> 404). A wrong status is an error.",
        "- *DuckDB direct*: the very statement the API runs (`finks_api.datasets.page_query`,",
        "  which renders each row to JSON inside DuckDB) with the same bound parameters, from the",
        "  same number of threads, each with its own cursor on one read-only connection, all",
        "  rows fetched into Python. It is the floor the API adds HTTP and Python work to.",
        "- Latencies are per request, from send to the last byte read; percentiles over every",
        "  request of the level. Both sides share the machine's 2 cores with the load generator",
        "  (and with whatever else runs), so at 50 clients both are CPU-bound and the numbers",
        "  are mostly queueing.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=REPO / ".finks" / "bench-api")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per level")
    parser.add_argument("--clients", default="1,10,50")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks-api.md")
    parser.add_argument("--mixed-clients", type=int, default=20)
    parser.add_argument("--mixed-duration", type=float, default=30.0, help="seconds")
    parser.add_argument("--server-workers", type=int, default=2,
                        help="`finks-api serve --workers` (2: one per core of this machine)")
    parser.add_argument("--only-mixed", action="store_true",
                        help="run the mixed profile only (no per-query levels, no DuckDB baseline)")
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.clients.split(",")]
    data_dir = args.data_dir.absolute()
    data_dir.mkdir(parents=True, exist_ok=True)

    warehouse, build_seconds = build_year(data_dir)
    from finks_api.keys import KeyStore
    from finks_assets.lib.settings import FinksSettings

    settings = FinksSettings.from_env({"FINKS_DATA_DIR": str(data_dir)})
    store = KeyStore(settings.api_key_store_path)
    created = store.create(["prices:read", "portfolio:read"], name="bench")
    prices_only = store.create(["prices:read"], name="bench-prices-only")
    key = created.key
    keys = {"all": key, "prices": prices_only.key, "unknown": UNKNOWN_KEY}
    port = free_port()
    server = start_server(data_dir, port, ("--workers", str(args.server_workers)))
    results: list[Result] = []
    row_counts: dict[str, int] = {}
    load_before = os.getloadavg()[0]
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            for scenario in () if args.only_mixed else SCENARIOS:
                sql, params = scenario.sql(con)
                rows = len(con.execute(sql, params).fetchall())
                assert 0 < rows <= DEFAULT_PAGE_SIZE, rows
                row_counts[scenario.name] = rows
                for clients in levels:
                    results.append(measure(scenario.name, scenario.name, "api", clients,
                                           args.duration, api_worker(port, key, scenario, rows)))
                    results.append(measure(scenario.name, scenario.name, "duckdb", clients,
                                           args.duration, duckdb_worker(con, scenario, rows)))
        results.append(measure(MIXED_SCENARIO, MIXED_SCENARIO, "api", args.mixed_clients,
                               args.mixed_duration, mixed_worker(port, keys)))
    finally:
        stop_server(server)
        store.revoke(created.record.key_id)
        store.revoke(prices_only.record.key_id)

    meta = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}, "
                   f"Python {platform.python_version()}, DuckDB {duckdb.__version__}",
        "data": f"gold for {len(TICKERS)} tickers x 252 sessions of 2024 "
                f"({'built by the real pipeline in ' + format(build_seconds, '.0f') + ' s' if build_seconds else 'built earlier by the real pipeline, reused'})",
        "server": f"`finks-api serve --workers {args.server_workers}` = uvicorn, "
                  f"{args.server_workers} worker process(es), access log on; load generator in a "
                  "separate process on the same 2 cores",
        "per level": f"{args.duration:g} s measured after a 1 s warm-up; mixed profile: "
                     f"{args.mixed_clients} clients for {args.mixed_duration:g} s",
        "rows per response": ", ".join(f"{k}: {v}" for k, v in row_counts.items()),
        "machine load": f"1-min load average {load_before:.1f} before and "
                        f"{os.getloadavg()[0]:.1f} after the run (other jobs share the 2 cores)",
    }
    args.out.write_text(render(results, meta))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
