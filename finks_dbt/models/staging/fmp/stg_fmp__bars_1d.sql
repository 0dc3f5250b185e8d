{#- FMP daily bars, typed, restricted to the run's trading-date window. -#}
-- depends_on: {{ source('silver_fmp', 'bars_1d') }}

with source as (

    select * from {{ silver_relation('bars_1d', 'silver_fmp') }} as bars

)

select
    {{ finks_typed_bar_columns() }},
    cast(vwap as double) as vwap
from source
where {{ finks_window_predicate('trade_date') }}
