{#-
    One row per (portfolio_id, trade_date, ticker): each holding of the seed portfolio_holdings
    valued at the ticker's close in fct_daily_bars, split-adjusted.

    The seed's quantities are shares held now (as of the latest session). Before a split the
    same position was fewer shares at a higher price, so each day is valued at the close in
    today's share terms: raw close * cumulative_split_factor (fct_adjustment_factors). With
    the raw close a 4:1 split read as a 75% loss of that holding on the split day. Dividends
    are not folded in: market value and daily P&L are the price return, as a brokerage shows.

    A portfolio-day exists only when every holding of the portfolio has a close that day; a day
    with a missing close (a halted or not-yet-loaded ticker) is left out rather than valued with
    a gap, so market values and weights are always complete (weights sum to 1).
    prev_close / daily_pnl refer to the portfolio's previous emitted day.

    Rebuilt in full on every run (a table): it is small (holdings x trading days) and always
    consistent with all of fct_daily_bars, whatever window the run had.
-#}

with holdings as (

    select portfolio_id, ticker, quantity
    from {{ ref('portfolio_holdings') }}

),

daily_bars as (

    select
        bars.ticker,
        bars.trade_date,
        bars.close * coalesce(factors.cumulative_split_factor, 1) as close
    from {{ ref('fct_daily_bars') }} as bars
    left join {{ ref('fct_adjustment_factors') }} as factors
        on factors.ticker = bars.ticker
        and factors.trade_date = bars.trade_date

),

trading_days as (

    select distinct trade_date from daily_bars

),

candidate_positions as (

    select
        holdings.portfolio_id,
        trading_days.trade_date,
        holdings.ticker,
        holdings.quantity,
        daily_bars.close
    from holdings
    cross join trading_days
    left join daily_bars
        on daily_bars.ticker = holdings.ticker
        and daily_bars.trade_date = trading_days.trade_date

),

complete_portfolio_days as (

    select portfolio_id, trade_date
    from candidate_positions
    group by portfolio_id, trade_date
    having count(close) = count(*)

),

positions as (

    select
        candidate_positions.*,
        candidate_positions.quantity * candidate_positions.close as market_value
    from candidate_positions
    inner join complete_portfolio_days
        on complete_portfolio_days.portfolio_id = candidate_positions.portfolio_id
        and complete_portfolio_days.trade_date = candidate_positions.trade_date

),

valued as (

    select
        portfolio_id,
        trade_date,
        ticker,
        quantity,
        close,
        lag(close) over (partition by portfolio_id, ticker order by trade_date) as prev_close,
        market_value,
        -- The total is summed as an exact decimal: a double sum depends on the order the
        -- threads feed it, which made re-runs differ in the last bits of every weight.
        market_value / nullif(
            cast(
                sum(cast(market_value as decimal(38, 9)))
                    over (partition by portfolio_id, trade_date)
                as double
            ),
            0
        ) as weight
    from positions

)

select
    portfolio_id,
    trade_date,
    ticker,
    quantity,
    close,
    prev_close,
    market_value,
    weight,
    quantity * (close - prev_close) as daily_pnl
from valued
