{#- One FMP company profile per ticker (silver keeps the latest fetch only). -#}
-- depends_on: {{ source('silver_fmp', 'fmp_profile') }}

select
    cast(ticker as varchar) as ticker,
    cast(company_name as varchar) as company_name,
    cast(exchange as varchar) as exchange,
    cast(sector as varchar) as sector,
    cast(industry as varchar) as industry,
    cast(currency as varchar) as currency,
    cast(country as varchar) as country,
    cast(market_cap as double) as market_cap,
    cast(is_etf as boolean) as is_etf,
    cast(fetched_at as {{ finks_utc_timestamp_type() }}) as fetched_at
from {{ silver_relation('fmp_profile', 'silver_fmp', 'ticker') }} as profiles
