{#-
    Use a node's custom schema verbatim instead of dbt's default "<target.schema>_<custom>".

    dbt_project.yml puts staging models in `staging`, intermediate models in `intermediate`,
    marts and seeds in `gold`, so gold tables are `gold.fct_daily_bars`, never `main_gold...`.
    Nodes without a custom schema fall back to the target's schema (`gold`).

    On the `athena` target a schema is a Glue database, and the infrastructure creates (and grants
    its IAM roles) exactly two per stack: the lake database FINKS_GLUE_DATABASE (silver tables) and
    the gold database (the target's schema, FINKS_GOLD_GLUE_DATABASE). Gold models and seeds go to
    the gold database, which then holds only what the data API serves; the staging and
    intermediate views go next to the silver tables they select from (`stg_*` / `int_*` names
    never clash with `silver_*`). Nothing is written to a fixed `staging`/`intermediate`/`gold`
    database that another stack in the same account would share.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if target.type == 'athena' -%}
        {%- if custom_schema_name in ('staging', 'intermediate') -%}
            {{ env_var('FINKS_GLUE_DATABASE', 'finks') }}
        {%- else -%}
            {{ target.schema | trim }}
        {%- endif -%}
    {%- elif custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
