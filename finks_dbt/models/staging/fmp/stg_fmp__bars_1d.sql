{#- FMP daily bars, typed like stg_silver__bars_1m: all of silver fmp_bars_1d, no window. -#}
-- depends_on: {{ source('silver_fmp', 'fmp_bars_1d') }}

with source as (

    select * from {{ silver_relation('fmp_bars_1d', 'silver_fmp') }} as bars

)

select
    {{ finks_typed_bar_columns() }},
    -- FMP's own daily vwap (formula undocumented), not the 1-minute sum(close * volume) / sum(volume)
    cast(vwap as double) as vendor_vwap
from source
