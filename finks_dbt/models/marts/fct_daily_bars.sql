{{
    config(
        materialized='incremental',
        incremental_strategy=finks_incremental_strategy('replace_window'),
        partitioned_by=finks_partitioned_by(),
        on_schema_change='fail',
    )
}}
{#-
    One row per (ticker, trade_date). A window run (vars start_date/end_date) deletes the
    window's rows and inserts the recomputed window (macros/incremental/replace_window.sql);
    without vars, or with --full-refresh, the whole history is rebuilt.
-#}

-- depends_on: {{ ref('int_bars_1m__daily_rollup') }}
-- depends_on: {{ ref('int_fmp__daily_bars') }}
{# setting daily_bars_from: 'bars_1m' (rolled up 1-minute bars, default) or 'bars_1d' (FMP EOD,
   FINKS_SOURCE=fmp); Dagster passes it from FINKS_SOURCE (FINKS_DBT_DAILY_BARS_FROM). #}
with daily as (

    {% if finks_run_setting('daily_bars_from', 'bars_1m') == 'bars_1d' %}
    select * from {{ ref('int_fmp__daily_bars') }}
    {% else %}
    select * from {{ ref('int_bars_1m__daily_rollup') }}
    {% endif %}

)

select
    ticker,
    {{ finks_partition_leading('trade_date') }}
    open,
    high,
    low,
    close,
    volume,
    vwap,
    bar_count,
    first_bar_ts,
    last_bar_ts,
    source
    {{ finks_partition_trailing('trade_date') }}
from daily
where {{ finks_window_predicate('trade_date') }}
