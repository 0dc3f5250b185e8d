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
        {{ finks_typed_bar_columns() }}
    from source

)

select * from renamed
where {{ finks_window_predicate('trade_date') }}
