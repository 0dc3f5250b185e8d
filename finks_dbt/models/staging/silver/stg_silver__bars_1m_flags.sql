{#-
    The silver 1-minute bars a WARN quality check flagged (silver `flags`, written by the silver
    asset from its checks' outcomes: finks_assets/lib/quality/flags.py), one row per flagged bar.
    A view over all of silver (no window), like stg_silver__bars_1m.

    Its own model rather than a column of stg_silver__bars_1m because silver written before
    flags existed has no `flags` column at all: on DuckDB the scan is unioned BY NAME with an
    empty relation that has it, so such files read as "no flag" (null) instead of failing to
    bind, whether the lake holds old files, new ones or both. The union keeps the trade_date
    filter of a window run reaching the hive partitions (EXPLAIN shows the file filter).
#}
-- depends_on: {{ source('silver', 'bars_1m') }}

with source as (

    select * from {{ silver_relation('bars_1m') }} as bars
    {%- if target.type == 'duckdb' %}
    union all by name
    select cast(null as varchar) as flags where false
    {%- endif %}

)

select
    cast(ticker as varchar) as ticker,
    cast(trade_date as date) as trade_date,
    cast(ts as {{ finks_utc_timestamp_type() }}) as bar_ts,
    cast(flags as varchar) as flags
from source
where flags is not null
