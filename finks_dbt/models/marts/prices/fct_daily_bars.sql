{{ config(incremental_strategy=finks_incremental_strategy('replace_window')) }}
{#-
    One row per (ticker, trade_date). A window run (settings start_date/end_date) deletes the
    window's rows and inserts the recomputed window (macros/incremental/replace_window.sql);
    without a window, or with --full-refresh, the whole history is rebuilt.

    The window is applied here, on the unfiltered intermediate view: DuckDB pushes the
    trade_date predicate through the view's group by and the staging view down to the silver
    hive partitions, so a window run reads only the window's Parquet files.
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
    source,
    vendor_vwap,
    flagged_bars
    {{ finks_partition_trailing('trade_date') }}
from daily
where {{ finks_window_predicate('trade_date') }}
