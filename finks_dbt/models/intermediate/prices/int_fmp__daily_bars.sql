{#-
    FMP end-of-day bars shaped like int_bars_1m__daily_rollup, so fct_daily_bars can be built from
    either (var daily_bars_from). One EOD bar per day: bar_count = 1 and first/last bar ts are
    the session open. vwap is FMP's own daily vwap, passed through unchanged: a
    vendor vwap outside the day's range is a data error the mart's tests should catch.
-#}

select
    ticker,
    trade_date,
    open,
    high,
    low,
    close,
    volume,
    vwap,
    cast(1 as bigint) as bar_count,
    bar_ts as first_bar_ts,
    bar_ts as last_bar_ts,
    source
from {{ ref('stg_fmp__bars_1d') }}
