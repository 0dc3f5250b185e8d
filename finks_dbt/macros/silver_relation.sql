{#-
    The relation to select a silver table from, e.g. `from {{ silver_relation('bars_1m') }} as b`.

    * duckdb target: the hive-partitioned Parquet files under the lake root (finks_lake_root), i.e.
      read_parquet('<lake_root>/silver/<table>/trade_date=*/[!.]*.parquet',
                   hive_partitioning = true, union_by_name = true)
      `trade_date` comes from the directory name only. `[!.]*` skips the `.tmp-*.parquet`
      files the lake writer renames into place (a reader must never open a half-written file).
      A glob matching only zero-row files (an exchange holiday) reads as zero rows. DuckDB
      raises "No files found" on a glob matching nothing (a lake where silver was never
      materialized), so at execution time the macro counts the matches with glob() first and,
      if there are none, renders an empty relation typed from the source's column data_types.
    * any other target (Athena later): `source('silver', <table>)`, i.e. the Glue table.

    Models must also keep `-- depends_on: {{ source('silver', '<table>') }}` so the lineage
    graph maps silver -> staging whatever the target.
-#}
{#- source_name / partition_key: the FMP per-ticker tables live in source silver_fmp under ticker=<T>/ -#}
{% macro silver_relation(table_name, source_name='silver', partition_key='trade_date') %}
    {{ return(adapter.dispatch('silver_relation', 'finks')(table_name, source_name, partition_key)) }}
{% endmacro %}


{% macro default__silver_relation(table_name, source_name='silver', partition_key='trade_date') %}
    {{ return(source(source_name, table_name)) }}
{% endmacro %}


{% macro duckdb__silver_relation(table_name, source_name='silver', partition_key='trade_date') %}
    {%- set root = finks_lake_root() -%}
    {%- set pattern = root ~ '/silver/' ~ table_name ~ '/' ~ partition_key ~ '=*/[!.]*.parquet' -%}
    {%- set pattern_literal = "'" ~ (pattern | replace("'", "''")) ~ "'" -%}
    {%- if execute -%}
        {%- set matches = run_query("select count(*) from glob(" ~ pattern_literal ~ ")") -%}
        {%- if matches.columns[0].values()[0] == 0 -%}
            {{ log("silver_relation: no files match " ~ pattern ~ "; reading an empty " ~ table_name, info=true) }}
            {{ return(finks_empty_silver_relation(table_name, source_name)) }}
        {%- endif -%}
    {%- endif -%}
    {{ return("read_parquet(" ~ pattern_literal ~ ", hive_partitioning = true, union_by_name = true)") }}
{% endmacro %}


{#- A zero-row subquery with the columns (and data_types) declared for source('silver', table). -#}
{% macro finks_empty_silver_relation(table_name, source_name='silver') %}
    {%- set node = graph.sources.values()
        | selectattr('source_name', 'equalto', source_name)
        | selectattr('name', 'equalto', table_name)
        | first -%}
    {%- if not node or not node.columns -%}
        {{ exceptions.raise_compiler_error("source silver." ~ table_name ~ " declares no columns") }}
    {%- endif -%}
    {%- set casts = [] -%}
    {%- for column in node.columns.values() -%}
        {%- if not column.data_type -%}
            {{ exceptions.raise_compiler_error(
                "source silver." ~ table_name ~ " column " ~ column.name ~ " has no data_type") }}
        {%- endif -%}
        {%- do casts.append("cast(null as " ~ column.data_type ~ ") as " ~ adapter.quote(column.name)) -%}
    {%- endfor -%}
    {{ return("(select " ~ casts | join(", ") ~ " where false)") }}
{% endmacro %}


{#-
    The lake's root: setting `lake_root` (var or FINKS_DBT_LAKE_ROOT, see finks_run_setting),
    else $FINKS_DATA_DIR/lake. Resolved only at execution time, like the window, so that
    neither a new lake nor a new data directory invalidates the saved parse.
-#}
{% macro finks_lake_root() %}
    {%- if not execute -%}
        {{ return('lake') }}
    {%- endif -%}
    {%- set root = finks_run_setting('lake_root', env_var('FINKS_DATA_DIR', '../.finks') ~ '/lake') -%}
    {%- set root = (root | string | trim).rstrip('/') -%}
    {%- if root == '' -%}
        {{ exceptions.raise_compiler_error("the lake root is empty") }}
    {%- endif -%}
    {{ return(root) }}
{% endmacro %}
