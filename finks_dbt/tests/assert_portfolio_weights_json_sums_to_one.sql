{#-
    daily_portfolio_summary.weights (JSON text) must parse, hold one key per holding, and its
    weights must sum to 1 within 1e-9. Returns the offending portfolio-days.
-#}

with parsed as (

    select
        portfolio_id,
        trade_date,
        holdings_count,
        json_transform(weights, '"MAP(VARCHAR, DOUBLE)"') as weight_map
    from {{ ref('daily_portfolio_summary') }}

)

select
    portfolio_id,
    trade_date,
    holdings_count,
    cardinality(weight_map) as weight_keys,
    list_sum(map_values(weight_map)) as weight_total
from parsed
where weight_map is null
   or cardinality(weight_map) <> holdings_count
   or abs(list_sum(map_values(weight_map)) - 1) > 1e-9
