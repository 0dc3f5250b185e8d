{#- The typed key columns every FMP statement staging model starts with (point-in-time keys). -#}
{% macro fmp_statement_keys() -%}
    cast(ticker as varchar) as ticker,
    cast(period_end_date as date) as period_end_date,
    cast(fiscal_year as integer) as fiscal_year,
    cast(period as varchar) as period,
    cast(reported_currency as varchar) as reported_currency,
    cast(filing_date as date) as filing_date,
    cast(accepted_at as timestamp) as accepted_at,
    cast(fetched_at as {{ finks_utc_timestamp_type() }}) as fetched_at
{%- endmacro %}
