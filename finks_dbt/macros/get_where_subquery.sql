{#-
    dbt's `where` test config, plus one placeholder: `__finks_window__` becomes the run's
    trading-date predicate on `trade_date` (finks_window_predicate; `true` without a window).

    Why: the staging and intermediate models are views over the whole of silver, and each data
    test of theirs would otherwise re-read every silver partition on every run. The window is
    what the run reads, so it is what the run's tests check; earlier days were checked by the
    runs that built them. dbt_project.yml sets the placeholder per folder (`data_tests:`).

    The predicate is resolved when the test executes (the window comes from the environment,
    see finks_run_setting), so a new window never invalidates the saved parse. This overrides
    dbt's own get_where_subquery (global_project/macros/materializations/tests/where_subquery.sql)
    and behaves exactly like it for any other `where`.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where and '__finks_window__' in where -%}
        {%- set where = where | replace('__finks_window__', finks_window_predicate('trade_date')) -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}
