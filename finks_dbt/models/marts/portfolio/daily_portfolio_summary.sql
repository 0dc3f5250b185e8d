{#-
    One row per (portfolio_id, trade_date) from fct_portfolio_positions (complete portfolio-days
    only: every holding has a close that day).

    daily_pnl    = sum(quantity * (close - prev_close)), null on the portfolio's first day;
    daily_return = daily_pnl / the previous portfolio-day's market_value;
    weights      = JSON text {"TICKER": weight, ...}, keys sorted, weight = position value /
                   market_value (sums to 1).
-#}

with positions as (

    select * from {{ ref('fct_portfolio_positions') }}

),

per_day as (

    select
        portfolio_id,
        trade_date,
        -- Exact decimal sums: a double sum depends on the order the threads feed it, and
        -- re-running the same data must give the same bits.
        cast(sum(cast(market_value as decimal(38, 9))) as double) as market_value,
        case
            when count(prev_close) = count(*)
                then cast(sum(cast(daily_pnl as decimal(38, 9))) as double)
        end as daily_pnl,
        count(*) as holdings_count,
        {{ finks_json_object_agg('ticker', 'weight') }} as weights
    from positions
    group by portfolio_id, trade_date

)

select
    portfolio_id,
    trade_date,
    market_value,
    daily_pnl,
    daily_pnl / nullif(
        lag(market_value) over (partition by portfolio_id order by trade_date), 0
    ) as daily_return,
    holdings_count,
    weights
from per_day
