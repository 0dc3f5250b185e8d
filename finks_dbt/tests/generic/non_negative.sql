{#- Fails for each row where `column_name` is < 0 (nulls pass; pair with not_null). -#}
{% test non_negative(model, column_name) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} < 0
{% endtest %}
