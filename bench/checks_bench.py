"""Time the silver bar checks on a 2M-bar window with planted faults: end to end and per check.

``python -m bench.checks_bench [--tickers 250] [--sessions 21] [--rounds 3] [--seed 7]``

The window is synthetic silver (the synthetic source through ``clean_bars``: 250 tickers x 21
sessions is ~2M bars), with faults planted at random but seeded places: broken values,
duplicates stored next to and far from their twin, swapped neighbours, frozen prints, price
spikes, missing minutes and out-of-session bars, so every check has rows to name. Prints the
median of ``--rounds`` runs of ``run_bar_checks`` and, per check, the median time inside one
shared :class:`CheckDB` (the first rows: loading the bars and the shared ordering).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from finks_assets.lib import market_calendar
from finks_assets.lib.quality import anomalies, coverage, integrity
from finks_assets.lib.quality.check_base import CheckDB
from finks_assets.lib.quality.suite import run_bar_checks
from finks_assets.lib.quality.thresholds import BarQualityThresholds
from finks_assets.lib.sources.synthetic import SyntheticSource
from finks_assets.lib.transforms.silver_bars import clean_bars

WINDOW_END = dt.date(2025, 12, 31)
PRICES = ["open", "high", "low", "close"]


def sessions(count: int) -> list[dt.date]:
    return [s.date for s in market_calendar.sessions_between(
        WINDOW_END - dt.timedelta(days=count * 2 + 30), WINDOW_END)][-count:]


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
    """The silver window with random faults; storage order = silver order plus the planted
    disorder (each row sorts by a position; copies sit next to, or far from, their twin)."""
    rng = np.random.default_rng(seed)
    bars = silver.reset_index(drop=True)
    n = len(bars)
    pick = lambda k: rng.choice(n, k, replace=False)  # noqa: E731
    bars.loc[pick(20), "high"] = bars["low"] - 0.5
    bars.loc[pick(20), "close"] = np.nan
    bars.loc[pick(20), "volume"] = -5
    bars.loc[pick(20), "low"] = 0.0
    for start in pick(10):  # frozen feed: 20 bars of zero volume at one price
        rows = np.arange(start, min(start + 20, n))
        bars.loc[rows, PRICES] = bars.loc[start, "close"]
        bars.loc[rows, "volume"] = 0
    bars.loc[pick(30), PRICES] *= 100
    bars.loc[pick(10), PRICES] *= 0.01
    pos = np.arange(n, dtype="float64")
    swap = pick(20)
    swap = swap[swap + 1 < n]
    pos[swap], pos[swap + 1] = pos[swap + 1], pos[swap].copy()
    near, far, early = pick(20), pick(20), pick(10)
    extra = pd.concat([
        bars.loc[near].assign(_pos=pos[near] + 0.5),
        bars.loc[far].assign(_pos=n + np.arange(len(far), dtype="float64")),
        bars.loc[early].assign(ts=bars.loc[early, "ts"] + pd.Timedelta(hours=7),
                               _pos=pos[early] + 0.5),
    ])
    dropped = np.concatenate([pick(50), *(np.arange(s, min(s + 30, n)) for s in pick(5))])
    kept = bars.assign(_pos=pos).drop(index=np.unique(dropped))
    out = pd.concat([kept, extra], ignore_index=True).sort_values("_pos", kind="stable")
    return out.drop(columns="_pos").reset_index(drop=True)


def history_counts(tickers: list[str], before: dt.date) -> pd.DataFrame:
    earlier = market_calendar.sessions_between(before - dt.timedelta(days=14), before - dt.timedelta(days=1))
    return pd.DataFrame([{"ticker": t, "trade_date": s.date, "bars": 390}
                         for s in earlier[-5:] for t in tickers])


def per_check(db: CheckDB, days: list[dt.date], history: pd.DataFrame,
              t: BarQualityThresholds) -> dict[str, Callable[[], object]]:
    """The steps of ``run_bar_checks`` one by one, on one shared CheckDB (in the suite's order)."""
    violations: dict[str, pd.DataFrame] = {}
    return {
        "shared ordering": db.ordered,
        "value rules (3 checks)": lambda: violations.setdefault("v", integrity.value_violations(db)),
        "unique_ticker_ts": lambda: integrity.check_unique_ticker_ts(db),
        "monotonic_ts": lambda: integrity.check_monotonic_ts(db),
        "bars_in_session": lambda: integrity.check_in_session(db, days),
        "intraday_gaps": lambda: coverage.check_intraday_gaps(db, days, t.max_missing_minutes),
        "stale_prices": lambda: anomalies.check_stale_prices(db, t.max_stale_bars),
        "outlier_jumps": lambda: anomalies.check_outlier_jumps(db, t.max_abs_return,
                                                               t.jump_median_window),
        "row_count_anomaly": lambda: coverage.check_row_count_anomaly(
            db, days, history, t.row_count_trailing_sessions, t.row_count_min_history,
            t.row_count_min_ratio, t.row_count_max_ratio),
    }


def timed(step: Callable[[], object]) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


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
    print(f"{len(bars):,} bars ({args.tickers} tickers x {args.sessions} sessions, "
          f"{days[0]}..{days[-1]}), built in {time.perf_counter() - started:.1f} s")

    outcomes = run_bar_checks(bars, days, history, thresholds)
    print("failing rows: " + ", ".join(f"{k} {v.failing_rows}" for k, v in outcomes.items()))
    total = [timed(lambda: run_bar_checks(bars, days, history, thresholds))
             for _ in range(args.rounds)]
    steps: dict[str, list[float]] = {"load (CheckDB)": []}
    for _ in range(args.rounds):
        started = time.perf_counter()
        with CheckDB(bars) as db:
            steps["load (CheckDB)"].append(time.perf_counter() - started)
            for name, step in per_check(db, days, history, thresholds).items():
                steps.setdefault(name, []).append(timed(step))
    print(f"\nrun_bar_checks end to end: {statistics.median(total):.2f} s "
          f"(median of {args.rounds}; {', '.join(f'{t:.2f}' for t in total)})")
    for name, times in steps.items():
        print(f"  {name:<24} {statistics.median(times):6.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
