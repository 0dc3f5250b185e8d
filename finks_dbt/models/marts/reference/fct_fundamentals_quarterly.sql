{#-
    One row per (ticker, period_end_date) for quarterly periods, joining the income statement,
    balance sheet and cash-flow statement.

    Point in time: `available_from` is the latest SEC acceptance time among the three statements
    of the quarter (a quarter is only fully known once all of them are public), so a backtest
    joins with `available_from <= as_of` and never sees figures before they were published.
    Period end and filing date are kept for calendar joins.
-#}

with income as (

    select * from {{ ref('stg_fmp__income_statements') }} where period like 'Q%'

),

balance as (

    select * from {{ ref('stg_fmp__balance_sheets') }} where period like 'Q%'

),

cash_flow as (

    select * from {{ ref('stg_fmp__cash_flows') }} where period like 'Q%'

)

select
    income.ticker,
    income.period_end_date,
    income.fiscal_year,
    income.period as fiscal_quarter,
    income.reported_currency,
    greatest(income.filing_date, balance.filing_date, cash_flow.filing_date) as filing_date,
    greatest(income.accepted_at, balance.accepted_at, cash_flow.accepted_at) as available_from,
    income.revenue,
    income.gross_profit,
    income.operating_income,
    income.net_income,
    income.eps,
    income.eps_diluted,
    balance.total_assets,
    balance.total_liabilities,
    balance.total_stockholders_equity,
    balance.cash_and_cash_equivalents,
    balance.total_debt,
    cash_flow.operating_cash_flow,
    cash_flow.capital_expenditure,
    cash_flow.free_cash_flow
from income
left join balance using (ticker, period_end_date)
left join cash_flow using (ticker, period_end_date)
