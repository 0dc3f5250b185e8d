{#- Model-level: fails for each row where `expression` is false (null counts as passing). -#}
{% test expression_is_true(model, expression) %}
    select *
    from {{ model }}
    where not ({{ expression }})
{% endtest %}
