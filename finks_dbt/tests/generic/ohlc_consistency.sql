{#-
    Model-level OHLC invariant: high >= greatest(open, close) and low <= least(open, close)
    (hence low <= high). Fails for each violating row; rows with a null price fail too.
-#}
{% test ohlc_consistency(model, open_column='open', high_column='high', low_column='low', close_column='close') %}
    select *
    from {{ model }}
    where {{ open_column }} is null
       or {{ high_column }} is null
       or {{ low_column }} is null
       or {{ close_column }} is null
       or not (
            {{ high_column }} >= greatest({{ open_column }}, {{ close_column }})
            and {{ low_column }} <= least({{ open_column }}, {{ close_column }})
       )
{% endtest %}
