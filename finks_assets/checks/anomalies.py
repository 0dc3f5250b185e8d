"""Price anomalies a valid-looking bar can still carry: stale prints and outlier jumps.

Neither is impossible in a real market (a halted stock prints nothing; a crash moves fast),
so both are WARN checks that name the bars for a human to judge.
"""

from __future__ import annotations

import pandas as pd

from finks_assets.checks.base import CheckOutcome, outcome, query

_STALE_SQL = """
with flagged as (
    select ticker, ts, trade_date, close, volume,
           volume = 0 as zero,
           lag(close) over t as prev_close,
           lag(volume = 0) over t as prev_zero
    from bars window t as (partition by ticker order by ts)
),
runs as (
    select *, sum(case when zero and prev_zero and close = prev_close then 0 else 1 end)
              over (partition by ticker order by ts) as run_id
    from flagged
),
sized as (
    select *, count(*) over (partition by ticker, run_id) as run_bars,
              min(ts) over (partition by ticker, run_id) as run_start
    from runs where zero
)
select ticker, ts, trade_date, close, volume, run_start, run_bars from sized
where run_bars > $1 order by ticker, ts
"""


def check_stale_prices(bars: pd.DataFrame, max_stale_bars: int = 15) -> CheckOutcome:
    """No run of more than ``max_stale_bars`` consecutive bars with zero volume and one close.

    Such a run is a vendor repeating the last print (a frozen feed), not trading. Every bar of
    an over-long run is an offender.
    """
    offenders = query(_STALE_SQL, [max_stale_bars], bars=bars)
    runs = offenders.drop_duplicates(["ticker", "run_start"])
    return outcome(
        offenders, ["ticker", "run_start", "run_bars", "close"],
        stale_runs=len(runs), max_stale_bars=max_stale_bars,
    )


_JUMP_SQL = """
with returns as (
    select ticker, ts, trade_date, close,
           lag(close) over t as prev_close,
           median(close) over (partition by ticker order by ts
                               rows between $1 preceding and 1 preceding) as trailing_median
    from bars window t as (partition by ticker order by ts)
)
select ticker, ts, trade_date, prev_close, close, round(close / prev_close - 1, 6) as bar_return,
       trailing_median
from returns
where prev_close > 0 and trailing_median > 0 and close > 0
  and abs(ln(close / prev_close)) > ln(1 + $2)
  and abs(ln(close / trailing_median)) > ln(1 + $2)
order by ticker, ts
"""


def check_outlier_jumps(
    bars: pd.DataFrame, max_abs_return: float = 0.5, median_window: int = 10
) -> CheckOutcome:
    """No bar-to-bar close move beyond ``max_abs_return`` (log-symmetric: +50% or -33%).

    Only the bar that *starts* an anomaly is flagged: it must also sit that far from the
    ticker's trailing median of ``median_window`` closes. A one-bar 100x unit mix-up flags that
    bar, not the bar after it that returns to normal.
    """
    offenders = query(_JUMP_SQL, [median_window, max_abs_return], bars=bars)
    return outcome(
        offenders, ["ticker", "ts", "prev_close", "close", "bar_return"],
        max_abs_return=max_abs_return,
    )
