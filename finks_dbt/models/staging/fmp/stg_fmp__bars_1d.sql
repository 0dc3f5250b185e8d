{#- FMP daily bars, typed, restricted to the run's trading-date window. -#}
-- depends_on: {{ source('silver_fmp', 'bars_1d') }}

with source as (

    select * from {{ silver_relation('bars_1d', 'silver_fmp') }} as bars

)

select
    cast(ticker as varchar) as ticker,
    cast(trade_date as date) as trade_date,
    cast(ts as {{ finks_utc_timestamp_type() }}) as bar_ts,
    cast(open as double) as open,
    cast(high as double) as high,
    cast(low as double) as low,
    cast(close as double) as close,
    cast(volume as bigint) as volume,
    cast(vwap as double) as vwap,
    cast(source as varchar) as source,
    cast(ingested_at as {{ finks_utc_timestamp_type() }}) as ingested_at
from source
where {{ finks_window_predicate('trade_date') }}
