{#-
    The few expressions whose SQL differs between DuckDB (targets duckdb, duckdb_s3) and
    Athena/Trino (target athena), dispatched on the adapter. Everything else in the models is
    SQL both engines accept.
-#}

{#- Distinct values of `column`, sorted, comma-joined (e.g. the vendors of a day's bars). -#}
{% macro finks_sorted_distinct_csv(column) %}
    {{ return(adapter.dispatch('finks_sorted_distinct_csv', 'finks')(column)) }}
{% endmacro %}

{% macro default__finks_sorted_distinct_csv(column) -%}
    string_agg(distinct {{ column }}, ',' order by {{ column }})
{%- endmacro %}

{% macro athena__finks_sorted_distinct_csv(column) -%}
    array_join(array_sort(array_distinct(array_agg({{ column }}))), ',')
{%- endmacro %}


{#- A JSON object text {key: value, ...} aggregated over the group, keys sorted. -#}
{% macro finks_json_object_agg(key, value) %}
    {{ return(adapter.dispatch('finks_json_object_agg', 'finks')(key, value)) }}
{% endmacro %}

{% macro default__finks_json_object_agg(key, value) -%}
    cast(to_json(map(list({{ key }} order by {{ key }}), list({{ value }} order by {{ key }}))) as varchar)
{%- endmacro %}

{% macro athena__finks_json_object_agg(key, value) -%}
    json_format(cast(map(array_agg({{ key }} order by {{ key }}), array_agg({{ value }} order by {{ key }})) as json))
{%- endmacro %}


{#-
    The type of a UTC instant. DuckDB keeps `timestamp with time zone`; Athena cannot store a
    zoned timestamp in a Hive/Parquet table, so instants are plain (UTC) `timestamp` there,
    which is what the silver Parquet files hold anyway.
-#}
{% macro finks_utc_timestamp_type() %}
    {{ return(adapter.dispatch('finks_utc_timestamp_type', 'finks')()) }}
{% endmacro %}

{% macro default__finks_utc_timestamp_type() -%}
    timestamp with time zone
{%- endmacro %}

{% macro athena__finks_utc_timestamp_type() -%}
    timestamp
{%- endmacro %}
