{#-
    Silver 1-minute bars, typed and renamed, restricted to the run's trading-date window
    (vars start_date / end_date; the full history when they are not set).
#}
-- depends_on: {{ source('silver', 'bars_1m') }}

with source as (

    select * from {{ silver_relation('bars_1m') }} as bars

),

renamed as (

    select
        cast(ticker as varchar) as ticker,
        cast(trade_date as date) as trade_date,
        cast(ts as {{ finks_utc_timestamp_type() }}) as bar_ts,
        cast(open as double) as open,
        cast(high as double) as high,
        cast(low as double) as low,
        cast(close as double) as close,
        cast(volume as bigint) as volume,
        cast(source as varchar) as source,
        cast(ingested_at as {{ finks_utc_timestamp_type() }}) as ingested_at
    from source

)

select * from renamed
where {{ finks_window_predicate('trade_date') }}
