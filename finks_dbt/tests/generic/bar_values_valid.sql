{#-
    The value contract of a bar table in one scan: every `not_null_columns` value set, every
    `positive_columns` value set and > 0, every `non_negative_columns` value set and >= 0.
    Fails once per violating row; `violation` names the first rule the row breaks.

    Why one test instead of a not_null/positive test per column: every generic test is its own
    scan of the model, and on the silver staging view a scan is a read of all the run's
    Parquet files. Thirteen such scans were half of dbt's execution time in a backfill, for
    rules the silver gate has already enforced once.
-#}
{% test bar_values_valid(model, not_null_columns=[], positive_columns=[], non_negative_columns=[]) %}
    {%- set required = not_null_columns + positive_columns + non_negative_columns -%}
    {%- if not required -%}
        {{ exceptions.raise_compiler_error("bar_values_valid needs at least one column") }}
    {%- endif -%}
    select *
    from (
        select
            case
            {%- for column in required %}
                when {{ column }} is null then '{{ column }} is null'
            {%- endfor %}
            {%- for column in positive_columns %}
                when {{ column }} <= 0 then '{{ column }} <= 0'
            {%- endfor %}
            {%- for column in non_negative_columns %}
                when {{ column }} < 0 then '{{ column }} < 0'
            {%- endfor %}
            end as violation,
            *
        from {{ model }}
    ) as checked
    where violation is not null
{% endtest %}
