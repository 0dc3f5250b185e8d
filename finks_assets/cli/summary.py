"""A short, human-readable summary of what gold holds, read through a read-only connection."""

from __future__ import annotations

import duckdb


def gold_summary(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    bars = con.execute(
        """
        select count(distinct ticker), count(distinct trade_date), count(*),
               min(trade_date), max(trade_date)
        from gold.fct_daily_bars
        """
    ).fetchone()
    features = con.execute("select count(*) from gold.fct_daily_features").fetchone()
    portfolios = con.execute(
        """
        select portfolio_id, trade_date, market_value, daily_pnl, daily_return
        from gold.daily_portfolio_summary
        qualify row_number() over (partition by portfolio_id order by trade_date desc) = 1
        order by portfolio_id
        """
    ).fetchall()
    return {
        "tickers": bars[0], "trading_days": bars[1], "daily_bar_rows": bars[2],
        "first_day": bars[3], "last_day": bars[4], "feature_rows": features[0],
        "portfolios": portfolios,
    }


def format_summary(summary: dict[str, object]) -> str:
    lines = [
        "Gold summary",
        f"  fct_daily_bars      {summary['daily_bar_rows']} rows: {summary['tickers']} tickers x "
        f"{summary['trading_days']} trading days ({summary['first_day']} .. {summary['last_day']})",
        f"  fct_daily_features  {summary['feature_rows']} rows",
        "  daily_portfolio_summary (last day):",
    ]
    for portfolio_id, day, value, pnl, ret in summary["portfolios"]:  # type: ignore[union-attr]
        pnl_text = "n/a" if pnl is None else f"{pnl:+,.2f}"
        ret_text = "n/a" if ret is None else f"{ret:+.2%}"
        lines.append(
            f"    {portfolio_id:<12} {day}  value {value:,.2f}  P&L {pnl_text}  return {ret_text}"
        )
    return "\n".join(lines)
