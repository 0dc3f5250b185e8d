{#-
    Split and dividend adjustment factors per (ticker, trade_date), from daily bars and
    corporate actions. Used by fct_adjustment_factors (every action known) and by
    finks_adjusted_bars_as_of (only the actions known at a time).

    Convention (zipline / CRSP; also what Yahoo's "Adj Close" follows):
    * An action takes effect on the ticker's first session on or after its ex-date.
    * split_factor of that session = 1 / split_ratio (0.25 for a 4:1 split).
    * dividend_factor of that session = 1 - cash_amount / previous session's close, both raw
      (unadjusted) values; a dividend on the ticker's first session, or one not smaller than
      the previous close (a data error), gets factor 1.
    * cumulative_factor of a session = the product of split_factor * dividend_factor over every
      LATER session of the ticker (1 on and after the latest action). An adjusted price is
      raw price * cumulative_factor: back-adjusted as of the latest action, so the latest prices
      equal the raw ones and a return between two adjusted closes is the true (total) return.
    * cumulative_split_factor: the same product over split_factor only; adjusted volume is raw
      volume / cumulative_split_factor.

    `known_at`: none, or a SQL expression of a UTC timestamp; only actions with
    first_seen_at <= known_at count (the point-in-time view).
-#}
{% macro finks_adjustment_factors(bars, actions, known_at=none) %}
with factor_bars as (

    select
        ticker,
        trade_date,
        close,
        lag(close) over (partition by ticker order by trade_date) as previous_close
    from {{ bars }}

),

factor_actions as (

    select ticker, ex_date, kind, split_ratio, cash_amount
    from {{ actions }}
    {%- if known_at is not none %}
    where first_seen_at <= {{ known_at }}
    {%- endif %}

),

effective as (

    -- each action's first session on or after its ex-date (ex-dates are sessions in practice;
    -- this only matters when a vendor dates an action on a day the ticker has no bar)
    select a.ticker, a.ex_date, a.kind, a.split_ratio, a.cash_amount,
           min(b.trade_date) as trade_date
    from factor_actions as a
    inner join factor_bars as b
        on b.ticker = a.ticker and b.trade_date >= a.ex_date
    group by a.ticker, a.ex_date, a.kind, a.split_ratio, a.cash_amount

),

events as (

    select
        e.ticker,
        e.trade_date,
        {{ finks_product("case when e.kind = 'split' then 1.0 / e.split_ratio else 1.0 end") }}
            as split_factor,
        {{ finks_product("case when e.kind = 'cash_dividend' and b.previous_close > e.cash_amount
                               then 1.0 - e.cash_amount / b.previous_close else 1.0 end") }}
            as dividend_factor
    from effective as e
    inner join factor_bars as b
        on b.ticker = e.ticker and b.trade_date = e.trade_date
    group by e.ticker, e.trade_date

),

daily_factors as (

    select
        b.ticker,
        b.trade_date,
        coalesce(ev.split_factor, 1.0) as split_factor,
        coalesce(ev.dividend_factor, 1.0) as dividend_factor
    from factor_bars as b
    left join events as ev
        on ev.ticker = b.ticker and ev.trade_date = b.trade_date

)

select
    ticker,
    {{ finks_partition_leading('trade_date') }}
    split_factor,
    dividend_factor,
    coalesce({{ finks_product('split_factor * dividend_factor') }} over later_sessions, 1.0)
        as cumulative_factor,
    coalesce({{ finks_product('split_factor') }} over later_sessions, 1.0)
        as cumulative_split_factor
    {{ finks_partition_trailing('trade_date') }}
from daily_factors
window later_sessions as (
    partition by ticker order by trade_date desc
    rows between unbounded preceding and 1 preceding
)
{% endmacro %}


{#- The product aggregate: DuckDB has product(); Athena (Trino) does not, so exp(sum(ln(x)))
    there (all factors are > 0). -#}
{% macro finks_product(expression) %}
    {{ return(adapter.dispatch('finks_product', 'finks')(expression)) }}
{% endmacro %}

{% macro default__finks_product(expression) -%}
    product({{ expression }})
{%- endmacro %}

{% macro athena__finks_product(expression) -%}
    exp(sum(ln({{ expression }})))
{%- endmacro %}
