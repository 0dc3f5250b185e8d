{#- One row per ticker with its FMP company profile (the latest fetch). -#}

select
    ticker,
    company_name,
    exchange,
    sector,
    industry,
    currency,
    country,
    market_cap,
    is_etf,
    fetched_at as profile_fetched_at
from {{ ref('stg_fmp__profiles') }}
