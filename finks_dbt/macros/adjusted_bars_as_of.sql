{#-
    Point in time: daily bars adjusted only by the corporate actions Finks knew at `known_at`.

    fct_daily_bars_adjusted applies every action in silver, including one fetched today for an
    ex-date last month, so yesterday's query and today's may disagree: right for research on
    today's knowledge, wrong for a backtest that must see only what was known then. This macro
    joins each action on its `first_seen_at` (the earliest fetch that carried it, kept by silver):
    an action counts only if first_seen_at <= known_at.

    known_at: 'YYYY-MM-DD' (end of that UTC day) or 'YYYY-MM-DDTHH:MM[:SS][Z|+00:00]', validated
    before it reaches SQL. Use it from an analysis or an ad-hoc query, e.g.

        dbt compile --select adjusted_bars_as_of --vars '{known_at: "2025-11-20T21:00:00Z"}'

    (analyses/adjusted_bars_as_of.sql), or `dbt show --inline "{{ finks_adjusted_bars_as_of('2025-11-20') }}"`.
    Columns: those of fct_daily_bars_adjusted.
-#}
{% macro finks_adjusted_bars_as_of(known_at) %}
    {%- set text = (known_at | string | trim) -%}
    {%- set match = modules.re.fullmatch(
        '([0-9]{4}-[0-9]{2}-[0-9]{2})(?:[T ]([0-9]{2}:[0-9]{2}(?::[0-9]{2})?)(?:Z|\\+00:00)?)?', text) -%}
    {%- if not match -%}
        {{ exceptions.raise_compiler_error("known_at=" ~ text ~ " is not a UTC date or timestamp") }}
    {%- endif -%}
    {%- set instant = match.group(1) ~ ' ' ~ (match.group(2) or '23:59:59.999999') -%}
    {%- set literal = "cast('" ~ instant ~ "' as " ~ finks_utc_timestamp_type() ~ ")" -%}
(
    with factors as (
        {{ finks_adjustment_factors(ref('fct_daily_bars'), ref('stg_silver__corporate_actions'), literal) }}
    )
    {{ finks_adjusted_bars_select('factors') }}
)
{% endmacro %}


{#- The adjusted columns of fct_daily_bars joined with a factor relation (one place for both
    fct_daily_bars_adjusted and the point-in-time macro). -#}
{% macro finks_adjusted_bars_select(factors) %}
    select
        b.ticker,
        {{ finks_partition_leading('b.trade_date') }}
        b.open * f.cumulative_factor as open,
        b.high * f.cumulative_factor as high,
        b.low * f.cumulative_factor as low,
        b.close * f.cumulative_factor as close,
        cast(round(b.volume / f.cumulative_split_factor) as bigint) as volume,
        b.vwap * f.cumulative_factor as vwap,
        b.vendor_vwap * f.cumulative_factor as vendor_vwap,
        b.bar_count,
        b.flagged_bars,
        b.first_bar_ts,
        b.last_bar_ts,
        f.cumulative_factor as adjustment_factor,
        b.source
        {{ finks_partition_trailing('b.trade_date') }}
    from {{ ref('fct_daily_bars') }} as b
    inner join {{ factors }} as f
        on f.ticker = b.ticker and f.trade_date = b.trade_date
{% endmacro %}
