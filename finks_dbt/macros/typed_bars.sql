{#-
    The columns every silver bar dataset shares (1-minute bars, their quarantine, FMP daily
    bars), cast to the types gold relies on. One list, so the bar schema cannot drift between
    the staging models that read it.
-#}
{% macro finks_typed_bar_columns() -%}
    cast(ticker as varchar) as ticker,
    cast(trade_date as date) as trade_date,
    cast(ts as {{ finks_utc_timestamp_type() }}) as bar_ts,
    cast(open as double) as open,
    cast(high as double) as high,
    cast(low as double) as low,
    cast(close as double) as close,
    cast(volume as bigint) as volume,
    cast(source as varchar) as source,
    cast(ingested_at as {{ finks_utc_timestamp_type() }}) as ingested_at
{%- endmacro %}
