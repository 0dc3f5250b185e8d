{#-
    Column-level plausibility of a daily vwap against the day's own range. Fails for each row
    whose vwap lies outside [low, high], or whose high or low lies more than `max_ratio` times
    away from it (high > max_ratio * vwap, or low < vwap / max_ratio). Null vwap passes.

    Why the ratio: vwap between low and high holds by construction for a close-weighted vwap
    (every close lies inside the day's range), so alone it can never fire on the rollup. A
    one-bar 100x print that stays in silver leaves vwap inside the range but drags the high far
    above it (gold high 12,097 against a vwap of 180 on a ~121 stock): no traded day has half
    its range, or double, sitting that far from where its volume traded, so such a day fails.
    A real day moving that much (a halt and a 3x reopening) also fails, which is what a WARN
    is for: a human looks at it, with flagged_bars on the same row.
-#}
{% test vwap_within_day_range(model, column_name, max_ratio=2, low_column='low', high_column='high') %}
    select *
    from {{ model }}
    where {{ column_name }} is not null
      and (
            {{ column_name }} < {{ low_column }}
         or {{ column_name }} > {{ high_column }}
         or {{ high_column }} > {{ max_ratio }} * {{ column_name }}
         or {{ low_column }} * {{ max_ratio }} < {{ column_name }}
      )
{% endtest %}
