{#-
    Silver corporate actions, typed: the whole dataset (a few rows per ticker and year), no
    window. Every gold run needs all of a ticker's actions, since an action re-scales every
    earlier price.
    Ephemeral (dbt_project.yml says why).
#}
-- depends_on: {{ source('silver_corporate_actions', 'corporate_actions') }}

with source as (

    select * from {{ silver_relation('corporate_actions', 'silver_corporate_actions', 'ticker') }} as actions

)

select
    cast(ticker as varchar) as ticker,
    cast(ex_date as date) as ex_date,
    cast(kind as varchar) as kind,
    cast(split_ratio as double) as split_ratio,
    cast(cash_amount as double) as cash_amount,
    cast(currency as varchar) as currency,
    cast(source as varchar) as source,
    cast(fetched_at as {{ finks_utc_timestamp_type() }}) as fetched_at,
    cast(first_seen_at as {{ finks_utc_timestamp_type() }}) as first_seen_at,
    -- the ex-date again, under the name the staging tests' window filter uses (__finks_window__)
    cast(ex_date as date) as trade_date
from source
