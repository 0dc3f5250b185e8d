{#-
    Quarantined silver bars (rejected by a silver quality rule), typed and renamed like
    stg_silver__bars_1m: the whole of the quarantine, no window.
#}
-- depends_on: {{ source('silver', 'bars_1m_quarantine') }}

with source as (

    select * from {{ silver_relation('bars_1m_quarantine') }} as quarantine

),

renamed as (

    select
        {{ finks_typed_bar_columns(volume_type='double') }},
        cast(reason as varchar) as reason
    from source

)

select * from renamed
