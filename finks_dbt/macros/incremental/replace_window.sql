{#-
    Custom incremental strategies: replace a trading-date window instead of merging on keys.

    A window run (vars start_date/end_date) deletes every target row whose trade_date is in the
    window and inserts the freshly computed rows for it, in one statement batch inside the
    model's transaction. Rows that disappeared upstream (a ticker removed from a silver day)
    therefore disappear from gold too, and re-running a window yields exactly the same rows.
    With no window vars the "window" is the whole history (delete all, insert all).

    * replace_window:             window = [start_date, end_date]
    * replace_from_window_start:  window = [start_date, latest]; for models whose rows depend
                                  on earlier days (returns, rolling volatility), so the days
                                  after a re-computed window are refreshed as well.

    The strategies only run when the target exists and the run is not a full refresh (dbt's
    incremental branch); a first build or --full-refresh creates the table from the model SQL.
    The inserted rows are filtered by the same predicate, so a model can never leave rows
    outside the deleted window.
-#}
{% macro get_incremental_replace_window_sql(arg_dict) %}
    {{ return(finks_replace_window_sql(arg_dict, through_latest=false)) }}
{% endmacro %}


{% macro get_incremental_replace_from_window_start_sql(arg_dict) %}
    {{ return(finks_replace_window_sql(arg_dict, through_latest=true)) }}
{% endmacro %}


{% macro finks_replace_window_sql(arg_dict, through_latest=false, column='trade_date') %}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set columns_csv = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- set predicate = finks_window_predicate(column, through_latest=through_latest) -%}
    {%- set delete_sql = finks_delete_window(target, column, through_latest=through_latest) -%}
    {%- set sql -%}
        {%- if delete_sql | trim %}
{{ delete_sql }};
        {% endif %}
insert into {{ target }} ({{ columns_csv }})
select {{ columns_csv }}
from {{ source }}
where {{ predicate }}
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}


{#-
    `delete from <relation> where <window predicate>`, or '' when the model is not running
    incrementally (the table does not exist yet, or this is a full refresh): only an existing
    table is ever deleted from.
-#}
{% macro finks_delete_window(relation, column='trade_date', through_latest=false) %}
    {%- if not is_incremental() -%}
        {{ return('') }}
    {%- endif -%}
    {{ return("delete from " ~ relation ~ " where " ~ finks_window_predicate(column, through_latest=through_latest)) }}
{% endmacro %}
