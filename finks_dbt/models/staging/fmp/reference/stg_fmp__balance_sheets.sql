{#- FMP balance sheets per (ticker, period_end_date), typed, with the point-in-time keys. -#}
-- depends_on: {{ source('silver_fmp', 'fmp_balance_sheet_statement') }}

select
    {{ fmp_statement_keys() }},
    cast(total_assets as double) as total_assets,
    cast(total_liabilities as double) as total_liabilities,
    cast(total_stockholders_equity as double) as total_stockholders_equity,
    cast(cash_and_cash_equivalents as double) as cash_and_cash_equivalents,
    cast(total_debt as double) as total_debt
from {{ silver_relation('fmp_balance_sheet_statement', 'silver_fmp', 'ticker') }} as statements
