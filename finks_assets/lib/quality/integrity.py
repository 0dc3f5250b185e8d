"""Blocking integrity checks: values a bar can never have, and keys that must be unique.

These re-verify the silver transform's *output* with separate SQL, so a bug in the transform
(or a file written by anything else) cannot reach gold. They share the quarantine's rule
names so a user sees the same word in the check, the report and the quarantine table.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from finks_assets.lib import market_calendar
from finks_assets.lib.quality.check_base import BAR_COLUMNS, CheckDB, CheckOutcome, bars_db, outcome
from finks_assets.lib.quality.ordering import ticker_codes

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

_VALUE_VIOLATIONS_SQL = """
select ticker, ts, trade_date, open, high, low, close, volume, rule from (
    select *,
           case
             when open is null or high is null or low is null or close is null or volume is null
                  or not isfinite(open) or not isfinite(high) or not isfinite(low)
                  or not isfinite(close) then 'null_field'
             when least(open, high, low, close) <= 0 then 'non_positive_price'
             when volume < 0 then 'negative_volume'
             when high < greatest(open, close) or low > least(open, close) then 'ohlc_invariant'
           end as rule
    from bars
) where rule is not null order by _row
"""


def value_violations(bars: pd.DataFrame | CheckDB) -> pd.DataFrame:
    """Every bar breaking a value rule, with the first rule it breaks (one scan for 3 checks)."""
    with bars_db(bars) as db:
        return db.query(_VALUE_VIOLATIONS_SQL)


def check_ohlc_invariants(bars: pd.DataFrame | CheckDB, violations: pd.DataFrame | None = None) -> CheckOutcome:
    """high >= max(open, close) and low <= min(open, close); no missing or infinite field."""
    bad = value_violations(bars) if violations is None else violations
    bad = bad[bad["rule"].isin(["ohlc_invariant", "null_field"])]
    return outcome(bad, [*BAR_COLUMNS, "rule"])


def check_positive_prices(bars: pd.DataFrame | CheckDB, violations: pd.DataFrame | None = None) -> CheckOutcome:
    """Every price is > 0: a zero or negative price is a vendor or unit error, never a trade."""
    bad = value_violations(bars) if violations is None else violations
    return outcome(bad[bad["rule"] == "non_positive_price"], BAR_COLUMNS)


def check_non_negative_volume(
    bars: pd.DataFrame | CheckDB, violations: pd.DataFrame | None = None
) -> CheckOutcome:
    """Volume is >= 0 (zero is legal: a minute without trades)."""
    bad = value_violations(bars) if violations is None else violations
    return outcome(bad[bad["rule"] == "negative_volume"], BAR_COLUMNS)


def check_unique_ticker_ts(bars: pd.DataFrame | CheckDB) -> CheckOutcome:
    """No two bars share (ticker, ts): the upsert key of every bar dataset.

    Each duplicated key is reported once, with its first stored copy's trade_date and the
    number of copies.
    """
    with bars_db(bars) as db:
        # In the shared ordering a repeated key is a bar whose ts equals its predecessor's.
        offenders = db.query("""
            with repeats as (
                select min(pos) - 1 as pos, count(*) + 1 as copies from bars
                where ticker_pos > 1 and ts is not distinct from prev_ts
                group by ticker, ts
            )
            select ticker, ts, trade_date, copies from bars join repeats using (pos)
            order by ticker, ts
        """)
    return outcome(offenders, ["ticker", "ts", "copies"],
                   failing_rows=int((offenders["copies"] - 1).sum()))


_NO_TS = -(2**63)  # the int64 minimum: no bar has it


def _stored_late(bars: pa.Table) -> pa.Table:
    """The bars stored after a later bar of their ticker: ``_row`` and that ``previous_ts``.

    The latest ts stored before each bar is a running max per ticker in storage order, in
    pandas: 0.24-0.31 s CPU on the 2M-bar window, against 3.0-3.1 s for DuckDB's ``max(ts)
    over (partition by ticker order by _row rows ... 1 preceding)``: 10-12x CPU, 9-13x wall
    (``python -m bench.checks_bench``, two runs).
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    ts_column = bars.column("ts").combine_chunks()
    ts = pc.fill_null(ts_column.cast(pa.int64()), _NO_TS).to_numpy(zero_copy_only=False)
    codes = ticker_codes(bars)
    running = pd.Series(ts).groupby(codes, sort=False).cummax()
    previous = running.groupby(codes, sort=False).shift(1, fill_value=_NO_TS).to_numpy()
    late = np.flatnonzero((ts != _NO_TS) & (ts < previous))
    return pa.table({"_row": late, "previous_ts": pa.array(previous[late]).cast(ts_column.type)})


def check_monotonic_ts(bars: pd.DataFrame | CheckDB) -> CheckOutcome:
    """Within a ticker, stored rows go forward in time (readers rely on the file order).

    Equal timestamps are the unique check's business; this one flags a bar stored *after* a
    later bar of the same ticker.
    """
    with bars_db(bars) as db:
        offenders = db.query(
            "select ticker, ts, trade_date, previous_ts from bars join late using (_row)"
            " order by _row",
            late=_stored_late(db.table),
        )
    return outcome(offenders, ["ticker", "ts", "previous_ts"])


def check_in_session(bars: pd.DataFrame | CheckDB, days: list[dt.date]) -> CheckOutcome:
    """Every bar starts inside its XNYS session [open, close), half days included."""
    with bars_db(bars) as db:
        offenders = db.query(
            """
            select b.ticker, b.ts, b.trade_date, s.open_utc, s.close_utc
            from bars b left join sessions s on cast(b.trade_date as date) = s.trade_date
            where s.trade_date is null or b.ts < s.open_utc or b.ts >= s.close_utc
            order by b.ticker, b.ts, b._row
            """,
            sessions=market_calendar.sessions_frame(days),
        )
    return outcome(offenders, ["ticker", "ts", "trade_date"])
