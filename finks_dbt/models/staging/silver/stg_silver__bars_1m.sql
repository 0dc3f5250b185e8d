{#-
    Silver 1-minute bars, typed and renamed: the whole of silver, no window. A run's window is
    applied by the incremental marts; their trade_date filter reaches the hive partitions
    through this view, so a window run reads only its days.
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
