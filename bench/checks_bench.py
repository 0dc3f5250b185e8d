"""Time the silver bar checks on a 2M-bar window with planted faults, and their NumPy paths.

``python -m bench.checks_bench [--tickers 250] [--sessions 21] [--rounds 3] [--seed 7]``

The window is synthetic silver (the synthetic source through ``clean_bars``: 250 tickers x 21
sessions is ~2M bars) with faults planted at random, seeded places: broken values, duplicates
stored next to and far from their twin, swapped neighbours, frozen prints, price spikes,
missing minutes and out-of-session bars, so every check has rows to name. Prints medians of
``--rounds`` runs (wall and CPU seconds; DuckDB uses two threads, NumPy one): ``run_bar_checks``
end to end, each step inside one shared CheckDB, and, for the two paths kept in NumPy/pandas,
the same result computed in DuckDB SQL, with the ratio that justifies keeping them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from finks_assets.lib import market_calendar
from finks_assets.lib.quality import anomalies, coverage, integrity
from finks_assets.lib.quality.check_base import CheckDB
from finks_assets.lib.quality.ordering import with_ordering
from finks_assets.lib.quality.suite import run_bar_checks
from finks_assets.lib.quality.thresholds import BarQualityThresholds
from finks_assets.lib.sources.synthetic import SyntheticSource
from finks_assets.lib.transforms.silver_bars import clean_bars

WINDOW_END = dt.date(2025, 12, 31)
PRICES = ["open", "high", "low", "close"]

# The SQL each kept NumPy path replaces, over the same input.
ORDERING_SQL = """
create or replace temp table bars_sql as
select *, row_number() over (order by ticker, ts, _row) - 1 as pos,
       row_number() over w as ticker_pos, lag(ts) over w as prev_ts, lag(close) over w as prev_close
from bars_frame window w as (partition by ticker order by ts, _row)
order by _row
"""
MONOTONIC_SQL = """
select ticker, ts, trade_date, previous_ts from (
    select *, max(ts) over (partition by ticker order by _row
                            rows between unbounded preceding and 1 preceding) as previous_ts
    from bars
) where ts < previous_ts order by _row
"""


def sessions(count: int) -> list[dt.date]:
    start = WINDOW_END - dt.timedelta(days=count * 2 + 30)
    return [s.date for s in market_calendar.sessions_between(start, WINDOW_END)][-count:]


def synthetic_silver(tickers: list[str], days: list[dt.date]) -> pd.DataFrame:
    """Silver bars as the pipeline makes them from the synthetic source."""
    source = SyntheticSource(seed=11)
    fetch = source.fetch_bars_1m(tickers, days)
    raw = pd.concat([fetch.frames[t].assign(_ticker=t) for t in tickers], ignore_index=True)
    bars = source.to_canonical(raw)
    bars["source"] = source.name
    bars["ingested_at"] = pd.Timestamp("2026-01-02 01:00", tz="UTC")
    bars["trade_date"] = market_calendar.exchange_date(bars["ts"])
    return clean_bars(bars, days).bars


def plant_faults(silver: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The silver window with random faults. Each row sorts by a position: copies sit next to,
    or far from, their twin, and swapped neighbours trade positions."""
    rng = np.random.default_rng(seed)
    bars = silver.reset_index(drop=True)
    n = len(bars)

    def pick(k: int) -> np.ndarray:
        return rng.choice(n, k, replace=False)

    bars.loc[pick(20), "high"] = bars["low"] - 0.5
    bars.loc[pick(20), "close"] = np.nan
    bars.loc[pick(20), "volume"] = -5
    bars.loc[pick(20), "low"] = 0.0
    for start in pick(10):  # a frozen feed: 20 bars of zero volume at one price
        rows = np.arange(start, min(start + 20, n))
        bars.loc[rows, PRICES] = bars.loc[start, "close"]
        bars.loc[rows, "volume"] = 0
    bars.loc[pick(30), PRICES] *= 100
    bars.loc[pick(10), PRICES] *= 0.01
    pos = np.arange(n, dtype="float64")
    swap = pick(20)
    swap = swap[swap + 1 < n]
    pos[swap], pos[swap + 1] = pos[swap + 1], pos[swap].copy()
    near, far, late = pick(20), pick(20), pick(10)
    extra = pd.concat([
        bars.loc[near].assign(_pos=pos[near] + 0.5),
        bars.loc[far].assign(_pos=n + np.arange(len(far), dtype="float64")),
        bars.loc[late].assign(ts=bars.loc[late, "ts"] + pd.Timedelta(hours=7),
                              _pos=pos[late] + 0.5),
    ])
    dropped = np.concatenate([pick(50), *(np.arange(s, min(s + 30, n)) for s in pick(5))])
    kept = bars.assign(_pos=pos).drop(index=np.unique(dropped))
    out = pd.concat([kept, extra], ignore_index=True).sort_values("_pos", kind="stable")
    return out.drop(columns="_pos").reset_index(drop=True)


def history_counts(tickers: list[str], before: dt.date) -> pd.DataFrame:
    earlier = market_calendar.sessions_between(before - dt.timedelta(days=14),
                                               before - dt.timedelta(days=1))
    return pd.DataFrame([{"ticker": t, "trade_date": s.date, "bars": 390}
                         for s in earlier[-5:] for t in tickers])


def steps(db: CheckDB, days: list[dt.date], history: pd.DataFrame,
          t: BarQualityThresholds) -> dict[str, Callable[[], object]]:
    """The steps of ``run_bar_checks`` one by one, in its order, on one shared CheckDB."""
    return {
        "value rules (3 checks)": lambda: integrity.value_violations(db),
        "unique_ticker_ts": lambda: integrity.check_unique_ticker_ts(db),
        "monotonic_ts": lambda: integrity.check_monotonic_ts(db),
        "bars_in_session": lambda: integrity.check_in_session(db, days),
        "intraday_gaps": lambda: coverage.check_intraday_gaps(db, days, t.max_missing_minutes),
        "stale_prices": lambda: anomalies.check_stale_prices(db, t.max_stale_bars),
        "outlier_jumps": lambda: anomalies.check_outlier_jumps(
            db, t.max_abs_return, t.jump_median_window),
        "row_count_anomaly": lambda: coverage.check_row_count_anomaly(
            db, days, history, t.row_count_trailing_sessions, t.row_count_min_history,
            t.row_count_min_ratio, t.row_count_max_ratio),
    }


class Timer:
    """Wall and CPU seconds per label, over rounds."""

    def __init__(self) -> None:
        self.times: dict[str, list[tuple[float, float]]] = {}

    def __call__(self, label: str, step: Callable[[], object]) -> object:
        wall, cpu = time.perf_counter(), time.process_time()
        result = step()
        self.times.setdefault(label, []).append(
            (time.perf_counter() - wall, time.process_time() - cpu))
        return result

    def median(self, label: str) -> tuple[float, float]:
        runs = self.times[label]
        return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)

    def line(self, label: str) -> str:
        wall, cpu = self.median(label)
        return f"  {label:<34} {wall:7.3f} s wall {cpu:7.3f} s CPU"


def kept_paths(db: CheckDB, timer: Timer) -> None:
    """Each path kept in NumPy/pandas against the DuckDB SQL it replaces (same outcome)."""
    def numpy_ordering() -> None:  # what CheckDB does
        db.con.register("bars_ordered", with_ordering(db.table))
        db.con.execute("create or replace temp table bars_np as select * from bars_ordered")
        db.con.unregister("bars_ordered")

    db.con.register("bars_frame", db.table)
    timer("ordering: NumPy lexsort + load", numpy_ordering)
    timer("ordering: SQL window + load", lambda: db.con.execute(ORDERING_SQL))
    differ = db.con.execute(
        "select count(*) from bars_np n join bars_sql s using (_row) where n.pos <> s.pos"
        " or n.ticker_pos <> s.ticker_pos or n.prev_ts is distinct from s.prev_ts"
        " or n.prev_close is distinct from s.prev_close").fetchone()[0]
    db.con.execute("drop table bars_np; drop table bars_sql")
    db.con.unregister("bars_frame")
    assert differ == 0, f"the SQL ordering differs from the NumPy one on {differ} bars"
    pandas = timer("monotonic_ts: pandas running max", lambda: integrity.check_monotonic_ts(db))
    sql = timer("monotonic_ts: SQL window", lambda: db.query(MONOTONIC_SQL))
    pd.testing.assert_frame_equal(pandas.offenders, sql, check_exact=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.checks_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickers", type=int, default=250)
    parser.add_argument("--sessions", type=int, default=21)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    days = sessions(args.sessions)
    tickers = [f"T{i:04d}" for i in range(args.tickers)]
    started = time.perf_counter()
    bars = plant_faults(synthetic_silver(tickers, days), args.seed)
    history = history_counts(tickers, days[0])
    thresholds = BarQualityThresholds()
    print(f"{len(bars):,} bars ({args.tickers} tickers x {args.sessions} sessions, {days[0]}.."
          f"{days[-1]}), built in {time.perf_counter() - started:.1f} s; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    outcomes = run_bar_checks(bars, days, history, thresholds)
    print("failing rows: " + ", ".join(f"{k} {v.failing_rows}" for k, v in outcomes.items()))

    timer = Timer()
    for _ in range(args.rounds):
        timer("run_bar_checks end to end", lambda: run_bar_checks(bars, days, history, thresholds))
        db = timer("load (CheckDB, with the ordering)", lambda: CheckDB(bars))
        with db:
            for name, step in steps(db, days, history, thresholds).items():
                timer(name, step)
            kept_paths(db, timer)
    print(f"\nmedians of {args.rounds} rounds; load average now {os.getloadavg()[0]:.1f}")
    for label in timer.times:
        print(timer.line(label))
    for numpy, sql in [("ordering: NumPy lexsort + load", "ordering: SQL window + load"),
                       ("monotonic_ts: pandas running max", "monotonic_ts: SQL window")]:
        (nw, nc), (sw, sc) = timer.median(numpy), timer.median(sql)
        print(f"  {sql} / {numpy}: {sw / nw:.1f}x wall, {sc / nc:.1f}x CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
