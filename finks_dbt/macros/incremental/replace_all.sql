{#-
    Incremental strategy `replace_all`: every run deletes all rows of the target and inserts the
    model's full result, in one batch inside the model's transaction (the table is never seen
    empty). For marts that cannot be cut by a trading-date window: a corporate action re-scales
    the adjustment factor of every earlier day of its ticker (fct_adjustment_factors,
    fct_daily_bars_adjusted). Unlike a `table` materialization it keeps the table (and its
    contract) in place instead of swapping a new one in, and it is set the way every other
    prices mart sets its strategy (finks_incremental_strategy), the folder deciding the rest.
-#}
{% macro get_incremental_replace_all_sql(arg_dict) %}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set columns_csv = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- set sql -%}
delete from {{ target }};
insert into {{ target }} ({{ columns_csv }})
select {{ columns_csv }}
from {{ arg_dict['temp_relation'] }}
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}
