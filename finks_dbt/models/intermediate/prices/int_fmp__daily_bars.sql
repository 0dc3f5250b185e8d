{#-
    FMP end-of-day bars shaped like int_bars_1m__daily_rollup, so fct_daily_bars can be built from
    either (var daily_bars_from). One EOD bar per day: bar_count = 1 and first/last bar ts are
    the session open.

    vwap is null: Finks' vwap is sum(close * volume) / sum(volume) over the day's 1-minute bars,
    and an EOD bar has none. FMP's own daily figure is kept apart as vendor_vwap, passed through
    unchanged (FMP does not document its formula; a vendor vwap outside the day's range is a
    data error the mart's tests catch). flagged_bars is null: no bar-level quality check runs
    on EOD bars, so there is nothing to count (0 would claim they were checked).
-#}

select
    ticker,
    trade_date,
    open,
    high,
    low,
    close,
    volume,
    cast(null as double) as vwap,
    cast(1 as bigint) as bar_count,
    bar_ts as first_bar_ts,
    bar_ts as last_bar_ts,
    source,
    vendor_vwap,
    cast(null as bigint) as flagged_bars
from {{ ref('stg_fmp__bars_1d') }}
