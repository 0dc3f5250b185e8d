"""Price anomalies a valid-looking bar can still carry: stale prints and outlier jumps.

Neither is impossible in a real market (a halted stock prints nothing; a crash moves fast),
so both are WARN checks that name the bars for a human to judge.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from finks_assets.checks.base import CheckDB, CheckOutcome, bars_db, outcome
from finks_assets.checks.ordering import floats


def check_stale_prices(bars: pd.DataFrame | CheckDB, max_stale_bars: int = 15) -> CheckOutcome:
    """No run of more than ``max_stale_bars`` consecutive bars with zero volume and one close.

    Such a run is a vendor repeating the last print (a frozen feed), not trading. Every bar of
    an over-long run is an offender. A run continues, in (ticker, ts) order, while a bar has
    zero volume and the same close as the zero-volume bar before it.
    """
    with bars_db(bars) as db:
        order = db.order
        rows = order.by_ticker_ts
        zero = (floats(db.table, "volume") == 0)[rows]
        close = floats(db.table, "close")[rows]
        continues = order.same_ticker_as_previous.copy()
        continues[1:] &= zero[1:] & zero[:-1] & (close[1:] == close[:-1])
        run_id = np.cumsum(~continues)
        in_runs = np.flatnonzero(zero)  # a run of zero-volume bars starts at a zero bar
        run_bars = np.bincount(run_id[in_runs])[run_id[in_runs]]
        run_first = np.flatnonzero(~continues)[run_id - 1]  # position of each row's run start
        stale = in_runs[run_bars > max_stale_bars]
        picked = db.rows(
            rows[stale], ["ticker", "ts", "trade_date", "close", "volume"],
            run_start=db.table.column("ts").take(pa.array(rows[run_first[stale]])),
            run_bars=pa.array(run_bars[run_bars > max_stale_bars], type=pa.int64()),
        )
        offenders = db.query("select * from picked order by ticker, ts", picked=picked)
    runs = offenders.drop_duplicates(["ticker", "run_start"])
    return outcome(
        offenders, ["ticker", "run_start", "run_bars", "close"],
        stale_runs=len(runs), max_stale_bars=max_stale_bars,
    )


# Applied to the few bars whose bar-to-bar move already passes the threshold (candidates),
# each with the list of its up to ``median_window`` earlier closes of the same ticker:
# list_median equals the window median over those rows, to the bit.
_JUMP_SQL = """
with returns as (
    select *, list_median(preceding) as trailing_median from candidates
)
select ticker, ts, trade_date, prev_close, close, round(close / prev_close - 1, 6) as bar_return,
       trailing_median
from returns
where prev_close > 0 and trailing_median > 0 and close > 0
  and abs(ln(close / prev_close)) > ln(1 + $1)
  and abs(ln(close / trailing_median)) > ln(1 + $1)
order by ticker, ts
"""
# Candidates are chosen in NumPy with a margin, so a last-bit difference between NumPy's and
# DuckDB's logarithm cannot drop a bar; DuckDB then applies the exact rule above.
_CANDIDATE_MARGIN = 1e-9


def check_outlier_jumps(
    bars: pd.DataFrame | CheckDB, max_abs_return: float = 0.5, median_window: int = 10
) -> CheckOutcome:
    """No bar-to-bar close move beyond ``max_abs_return`` (log-symmetric: +50% or -33%).

    Only the bar that *starts* an anomaly is flagged: it must also sit that far from the
    ticker's trailing median of ``median_window`` closes. A one-bar 100x unit mix-up flags that
    bar, not the bar after it that returns to normal. The median is computed only for bars
    whose move from the previous bar already passes the threshold.
    """
    with bars_db(bars) as db:
        order = db.order
        rows = order.by_ticker_ts
        close = floats(db.table, "close")[rows]
        prev = np.full(order.n, np.nan)
        prev[1:] = close[:-1]
        prev[~order.same_ticker_as_previous] = np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            move = np.abs(np.log(close / prev))
        limit = np.log1p(max_abs_return) - _CANDIDATE_MARGIN
        candidates = np.flatnonzero((prev > 0) & (close > 0) & (move > limit))
        first = np.maximum(candidates - median_window, order.ticker_start[candidates])
        lengths = candidates - first
        window_rows = np.repeat(candidates - lengths.cumsum(), lengths) + np.arange(lengths.sum())
        closes = db.table.column("close").combine_chunks()
        preceding = pa.ListArray.from_arrays(
            pa.array(np.concatenate(([0], lengths.cumsum())), type=pa.int32()),
            closes.take(pa.array(rows[window_rows], type=pa.int64())),
        )
        picked = db.rows(
            rows[candidates], ["ticker", "ts", "trade_date", "close"],
            prev_close=closes.take(pa.array(rows[candidates - 1], type=pa.int64())),
            preceding=preceding,
        )
        offenders = db.query(_JUMP_SQL, [max_abs_return], candidates=picked)
    return outcome(
        offenders, ["ticker", "ts", "prev_close", "close", "bar_return"],
        max_abs_return=max_abs_return,
    )
