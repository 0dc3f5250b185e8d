{{ config(incremental_strategy=finks_incremental_strategy('replace_from_window_start')) }}
{#-
    Daily return / momentum / volatility features per (ticker, trade_date) from fct_daily_bars.

    A "session" is a trading day on which the ticker has a daily bar, so lags count the
    ticker's rows. The features of a day depend on up to 20 earlier sessions, so they are
    computed over the ticker's whole history in fct_daily_bars (a few hundred rows per ticker
    and year; no lookback arithmetic to get wrong) and then restricted to the rows to write.

    Rows written: [start_date, latest] rather than [start_date, end_date], because a re-computed
    window changes the returns and volatility of the 20 sessions after it (a backfill of an older
    window, or a corrected silver day). The replace_from_window_start strategy deletes and
    re-inserts exactly that range, so the table always equals a full rebuild.

    Returns are computed on closes adjusted for splits and dividends (close * cumulative_factor
    of fct_adjustment_factors), so a 4:1 split day shows its true return, not -75%; `close`
    stays the raw close. A ratio of two adjusted closes does not depend on actions after the
    later day (the cumulative factors of both days share them), so rows already written stay
    right when a new action arrives. Only an action that arrives late, with an ex-date before
    the window, needs a re-run of the window holding its ex-date.
-#}

with daily as (

    -- left join: fct_adjustment_factors has a row for every bar (it is built from them); a
    -- missing one (a dbt unit test giving only bars) means no action, factor 1
    -- `close` from here on is the ADJUSTED close; the raw one goes out as `close` at the end
    select b.ticker, b.trade_date, b.close as raw_close,
           b.close * coalesce(f.cumulative_factor, 1.0) as close
    from {{ ref('fct_daily_bars') }} as b
    left join {{ ref('fct_adjustment_factors') }} as f
        on f.ticker = b.ticker and f.trade_date = b.trade_date

),

returns as (

    select
        ticker,
        trade_date,
        raw_close,
        close / lag(close, 1) over by_ticker - 1 as daily_return,
        close / lag(close, 5) over by_ticker - 1 as return_5d,
        close / lag(close, 20) over by_ticker - 1 as return_20d
    from daily
    window by_ticker as (partition by ticker order by trade_date)

),

volatility as (

    select
        *,
        case
            when count(daily_return) over trailing_20 = 20
                then stddev_samp(daily_return) over trailing_20 * sqrt(252)
        end as realized_vol_20d
    from returns
    window trailing_20 as (
        partition by ticker order by trade_date rows between 19 preceding and current row
    )

)

select
    ticker,
    {{ finks_partition_leading('trade_date') }}
    raw_close as close,
    daily_return,
    return_5d,
    return_20d,
    realized_vol_20d
    {{ finks_partition_trailing('trade_date') }}
from volatility
where {{ finks_window_predicate('trade_date', through_latest=true) }}
