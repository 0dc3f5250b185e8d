{#- FMP cash flows per (ticker, period_end_date), typed, with the point-in-time keys. -#}
-- depends_on: {{ source('silver_fmp', 'fmp_cash_flow_statement') }}

select
    {{ fmp_statement_keys() }},
    cast(operating_cash_flow as double) as operating_cash_flow,
    cast(capital_expenditure as double) as capital_expenditure,
    cast(free_cash_flow as double) as free_cash_flow
from {{ silver_relation('fmp_cash_flow_statement', 'silver_fmp', 'ticker') }} as statements
