{#- Daily bars adjusted as known at var `known_at` (see macros/adjusted_bars_as_of.sql):
    dbt compile --select adjusted_bars_as_of --vars '{known_at: "2025-11-20T21:00:00Z"}'
    then run target/compiled/finks/analyses/adjusted_bars_as_of.sql against the warehouse. -#}
-- depends_on: {{ ref('fct_daily_bars') }}
-- depends_on: {{ ref('stg_silver__corporate_actions') }}
select * from {{ finks_adjusted_bars_as_of(var('known_at', '2100-01-01')) }} as adjusted
