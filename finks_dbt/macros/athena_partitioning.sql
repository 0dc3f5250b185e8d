{#-
    Per-target incremental config for the trade_date-partitioned marts.

    * duckdb / duckdb_s3: the custom window strategies in macros/incremental/replace_window.sql
      (delete the window, insert it again) on an unpartitioned DuckDB table.
    * athena: dbt-athena's `insert_overwrite` on a Hive table partitioned by trade_date
      (`+partitioned_by` on models/marts/prices in dbt_project.yml): every trade_date partition
      present in the model's output replaces the one in the table, which is the same
      "re-running a window gives the same rows" contract.
      Athena requires partition columns to come LAST in the select list, hence
      finks_partition_leading / finks_partition_trailing around the column.
-#}
{% macro finks_incremental_strategy(duckdb_strategy) %}
    {{ return('insert_overwrite' if target.type == 'athena' else duckdb_strategy) }}
{% endmacro %}


{#- `<column>,` where the column normally sits (non-Athena targets), nothing on Athena. -#}
{% macro finks_partition_leading(column) %}
    {%- if target.type != 'athena' -%}{{ column }},{%- endif -%}
{% endmacro %}


{#- `, <column>` at the end of the select list on Athena, nothing elsewhere. -#}
{% macro finks_partition_trailing(column) %}
    {%- if target.type == 'athena' -%}, {{ column }}{%- endif -%}
{% endmacro %}
