{#-
    1-minute bars rolled up to one row per (ticker, trade_date) for the run's window.

    vwap is volume-weighted by each bar's close: sum(close * volume) / sum(volume). Vendor
    1-minute bars carry no per-trade prices, and the close is what most vendors weight with;
    the typical price (high + low + close) / 3 would bias toward the bar's extremes. A day whose
    bars all have zero volume has no vwap (null) rather than a division by zero.
-#}

with bars as (

    select * from {{ ref('stg_silver__bars_1m') }}

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

select * from daily
