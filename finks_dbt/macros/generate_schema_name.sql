{#-
    Use a node's custom schema verbatim instead of dbt's default "<target.schema>_<custom>".

    dbt_project.yml puts staging models in `staging`, intermediate models in `intermediate`,
    marts and seeds in `gold`, so gold tables are `gold.fct_daily_bars`, never `main_gold...`.
    Nodes without a custom schema fall back to the target's schema (`gold`).
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
