{{ config(incremental_strategy=finks_incremental_strategy('replace_all')) }}
{#-
    fct_daily_bars back-adjusted for splits and dividends as of the latest action
    (price * cumulative_factor, volume / cumulative_split_factor), beside the raw
    fct_daily_bars, which is never adjusted in place. Rebuilt whole on each run (incremental
    strategy replace_all): an action arriving today changes every earlier adjusted price of its
    ticker. For prices adjusted as known on an earlier date use the macro
    finks_adjusted_bars_as_of(known_at).
-#}
-- depends_on: {{ ref('fct_adjustment_factors') }}

{{ finks_adjusted_bars_select(ref('fct_adjustment_factors')) }}
