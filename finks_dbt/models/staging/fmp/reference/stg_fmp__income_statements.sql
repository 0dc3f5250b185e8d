{#- FMP income statements per (ticker, period_end_date), typed, with the point-in-time keys. -#}
-- depends_on: {{ source('silver_fmp', 'fmp_income_statement') }}

select
    {{ fmp_statement_keys() }},
    cast(revenue as double) as revenue,
    cast(gross_profit as double) as gross_profit,
    cast(operating_income as double) as operating_income,
    cast(net_income as double) as net_income,
    cast(eps as double) as eps,
    cast(eps_diluted as double) as eps_diluted,
    cast(ebitda as double) as ebitda
from {{ silver_relation('fmp_income_statement', 'silver_fmp', 'ticker') }} as statements
