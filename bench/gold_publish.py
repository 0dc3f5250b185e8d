"""What publishing gold costs: copy the warehouse before a build, clean + checkpoint + rename after.

``python -m bench.gold_publish [tickers] [days]`` (default 500 x 60) builds a warehouse with the
four trading-day marts at that size (random values, the marts' real column types), then times
``lib/warehouse_publish.gold_build`` around a stand-in build (one day's rows replaced) five
times and prints the medians. No dbt: only the publish overhead the gold step adds is measured.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from finks_assets.lib.warehouse_publish import gold_build

GOLD_SQL = """
create schema gold;
create table gold.fct_daily_bars as
select 'T' || t as ticker, date '2025-01-02' + d::integer as trade_date, 100 + random() as open,
       101 + random() as high, 99 + random() as low, 100 + random() as close,
       (random() * 1e7)::bigint as volume, 100 + random() as vwap, 390::bigint as bar_count,
       timestamptz '2025-01-02 14:30:00+00' + d::integer * interval 1 day as first_bar_ts,
       timestamptz '2025-01-02 20:59:00+00' + d::integer * interval 1 day as last_bar_ts,
       'synthetic' as source
from range({tickers}) r(t), range({days}) s(d);
create table gold.fct_daily_features as
select ticker, trade_date, close, random() / 50 as daily_return, random() / 20 as return_5d,
       random() / 10 as return_20d, random() / 5 as realized_vol_20d
from gold.fct_daily_bars;
create table gold.portfolio_holdings as
select 'p' || (t % 3) as portfolio_id, 'T' || t as ticker, 10.0 * (t + 1) as quantity
from range(10) r(t);
create table gold.fct_portfolio_positions as
select h.portfolio_id, b.trade_date, h.ticker, h.quantity, b.close, b.close - 1 as prev_close,
       h.quantity * b.close as market_value, 0.1 as weight, h.quantity as daily_pnl
from gold.portfolio_holdings h join gold.fct_daily_bars b using (ticker);
create table gold.daily_portfolio_summary as
select portfolio_id, trade_date, sum(market_value) as market_value, sum(daily_pnl) as daily_pnl,
       0.01 as daily_return, count(*) as holdings_count, '{{}}' as weights
from gold.fct_portfolio_positions group by all;
"""


def measure(tickers: int, days: int, repeats: int = 5) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="finks-publish-bench-") as tmp:
        live = Path(tmp) / "warehouse.duckdb"
        with duckdb.connect(str(live)) as con:
            con.execute(GOLD_SQL.format(tickers=int(tickers), days=int(days)))
        copies, publishes, totals = [], [], []
        for _ in range(repeats):
            started = time.perf_counter()
            with gold_build(live) as build:
                with duckdb.connect(str(build.path)) as con:  # a stand-in for the dbt build
                    con.execute("delete from gold.fct_daily_bars where trade_date = "
                                "(select max(trade_date) from gold.fct_daily_bars)")
                stats = build.publish()
            totals.append(time.perf_counter() - started)
            copies.append(stats.copy_seconds)
            publishes.append(stats.publish_seconds)
        return {"mb": live.stat().st_size / 1e6, "copy_s": statistics.median(copies),
                "publish_s": statistics.median(publishes), "total_s": statistics.median(totals)}


if __name__ == "__main__":
    n_tickers = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    n_days = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    result = measure(n_tickers, n_days)
    print(f"{n_tickers} tickers x {n_days} days: warehouse {result['mb']:.1f} MB, "
          f"copy {result['copy_s']:.3f} s, clean+checkpoint+fsync+rename "
          f"{result['publish_s']:.3f} s (medians of 5)")
