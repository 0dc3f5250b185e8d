{#-
    Fails for each group (by `group_by_columns`) whose sum of `column_name` differs from
    `expected` by more than `tolerance`, e.g. portfolio weights summing to 1 per portfolio-day.
-#}
{% test group_sum_equals(model, column_name, group_by_columns, expected=1, tolerance=1e-9) %}
    {%- set group_csv = group_by_columns | join(', ') -%}
    select {{ group_csv }}, sum({{ column_name }}) as total
    from {{ model }}
    group by {{ group_csv }}
    having sum({{ column_name }}) is null
        or abs(sum({{ column_name }}) - ({{ expected }})) > {{ tolerance }}
{% endtest %}
