{{ config(incremental_strategy=finks_incremental_strategy('replace_all')) }}
{#-
    Split / dividend / cumulative adjustment factors per (ticker, trade_date), for every day of
    fct_daily_bars (macros/adjustment_factors.sql states the zipline/CRSP convention).

    Rebuilt whole on each run (incremental strategy replace_all), not by trading-date window:
    one new action re-scales the cumulative factor of every earlier day of its ticker, so a
    window could not hold it. The rebuild is one pass over the daily bars (a few hundred rows
    per ticker and year).
-#}
-- depends_on: {{ ref('stg_silver__corporate_actions') }}

{{ finks_adjustment_factors(ref('fct_daily_bars'), ref('stg_silver__corporate_actions')) }}
