"""Price anomalies a valid-looking bar can still carry: stale prints and outlier jumps.

Neither is impossible in a real market (a halted stock prints nothing; a crash moves fast),
so both are WARN checks that name the bars for a human to judge. Both read the shared
(ticker, ts) ordering, so neither sorts the window again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from finks_assets.lib.quality.check_base import CheckDB, CheckOutcome, bars_db, outcome

if TYPE_CHECKING:
    import pandas as pd

# A run is consecutive positions of one ticker with zero volume and one close: within the
# rows of one (ticker, close), pos - row_number() is constant exactly along such a run.
# A bar without a close is a run of its own, never longer than max_stale_bars (>= 1).
_STALE_SQL = """
with zero as (
    select *, pos - row_number() over (partition by ticker, close order by pos) as run
    from bars where volume = 0 and close is not null
),
runs as (
    select *, count(*) over r as run_bars, min(ts) over r as run_start
    from zero window r as (partition by ticker, close, run)
)
select ticker, ts, trade_date, close, volume, run_start, run_bars
from runs where run_bars > $1 order by ticker, pos
"""


def check_stale_prices(bars: pd.DataFrame | CheckDB, max_stale_bars: int = 15) -> CheckOutcome:
    """No run of more than ``max_stale_bars`` consecutive bars with zero volume and one close.

    Such a run is a vendor repeating the last print (a frozen feed), not trading. Every bar of
    an over-long run is an offender. A run continues, in (ticker, ts) order, while a bar has
    zero volume and the same close as the zero-volume bar before it.
    """
    with bars_db(bars) as db:
        offenders = db.query(_STALE_SQL, [max_stale_bars])
    runs = offenders.drop_duplicates(["ticker", "run_start"])
    return outcome(
        offenders, ["ticker", "run_start", "run_bars", "close"],
        stale_runs=len(runs), max_stale_bars=max_stale_bars,
    )


# The trailing median is taken only for bars whose bar-to-bar move already passes the
# threshold (a window median over every bar cost more than all other checks together): each
# such bar is joined with the up to $2 bars before it, within its ticker, in the ordering.
_JUMP_SQL = """
with moves as (
    select * from bars
    where prev_close > 0 and close > 0 and abs(ln(close / prev_close)) > ln(1 + $1)
),
window_rows as (
    select pos, unnest(range(greatest(pos - $2, pos - ticker_pos + 1), pos)) as earlier
    from moves
),
medians as (
    select t.pos, median(b.close) as trailing_median
    from window_rows t join bars b on b.pos = t.earlier group by t.pos
)
select ticker, ts, trade_date, prev_close, close,
       round(close / prev_close - 1, 6) as bar_return, trailing_median
from moves join medians using (pos)
where trailing_median > 0 and abs(ln(close / trailing_median)) > ln(1 + $1)
order by ticker, pos
"""


def check_outlier_jumps(
    bars: pd.DataFrame | CheckDB, max_abs_return: float = 0.5, median_window: int = 10
) -> CheckOutcome:
    """No bar-to-bar close move beyond ``max_abs_return`` (log-symmetric: +50% or -33%).

    Only the bar that *starts* an anomaly is flagged: it must also sit that far from the
    ticker's trailing median of ``median_window`` closes. A one-bar 100x unit mix-up flags that
    bar, not the bar after it that returns to normal.
    """
    with bars_db(bars) as db:
        offenders = db.query(_JUMP_SQL, [max_abs_return, median_window])
    return outcome(
        offenders, ["ticker", "ts", "prev_close", "close", "bar_return"],
        max_abs_return=max_abs_return,
    )
