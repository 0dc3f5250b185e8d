{#-
    The columns every silver bar dataset shares (1-minute bars, their quarantine, FMP daily
    bars), cast to the types gold relies on. One list, so the bar schema cannot drift between
    the staging models that read it. The quarantine keeps volume as double: a bar quarantined
    for fractional_volume must show the volume it was sent, not a truncated one.
-#}
{% macro finks_typed_bar_columns(volume_type='bigint') -%}
    cast(ticker as varchar) as ticker,
    cast(trade_date as date) as trade_date,
    cast(ts as {{ finks_utc_timestamp_type() }}) as bar_ts,
    cast(open as double) as open,
    cast(high as double) as high,
    cast(low as double) as low,
    cast(close as double) as close,
    cast(volume as {{ volume_type }}) as volume,
    cast(source as varchar) as source,
    cast(ingested_at as {{ finks_utc_timestamp_type() }}) as ingested_at
{%- endmacro %}
