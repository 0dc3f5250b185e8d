{#-
    1-minute bars rolled up to one row per (ticker, trade_date) for the run's window.

    vwap is volume-weighted by each bar's close: sum(close * volume) / sum(volume). Vendor
    1-minute bars carry no per-trade prices, and the close is what most vendors weight with;
    the typical price (high + low + close) / 3 would bias toward the bar's extremes. A day whose
    bars all have zero volume has no vwap (null) rather than a division by zero. vendor_vwap is
    null here: the 1-minute vendors send no daily vwap of their own.

    flagged_bars counts the day's bars that a WARN quality check named when silver was written
    (stg_silver__bars_1m_flags): they are in every number of the row, so a day whose high or
    vwap a flagged bar drives says so itself.
-#}

with bars as (

    select * from {{ ref('stg_silver__bars_1m') }}

),

flagged as (

    select ticker, trade_date, count(*) as flagged_bars
    from {{ ref('stg_silver__bars_1m_flags') }}
    group by ticker, trade_date

),

daily as (

    select
        ticker,
        trade_date,
        min_by(open, bar_ts) as open,
        max(high) as high,
        min(low) as low,
        max_by(close, bar_ts) as close,
        cast(sum(volume) as bigint) as volume,
        -- Notional summed as an exact decimal so a re-run gives the same bits whatever order
        -- the threads feed the sum in.
        cast(sum(cast(close * volume as decimal(38, 9))) as double) / nullif(sum(volume), 0)
            as vwap,
        count(*) as bar_count,
        min(bar_ts) as first_bar_ts,
        max(bar_ts) as last_bar_ts,
        {{ finks_sorted_distinct_csv('source') }} as source
    from bars
    group by ticker, trade_date

)

select
    daily.*,
    cast(null as double) as vendor_vwap,
    cast(coalesce(flagged.flagged_bars, 0) as bigint) as flagged_bars
from daily
left join flagged
    on flagged.ticker = daily.ticker and flagged.trade_date = daily.trade_date
