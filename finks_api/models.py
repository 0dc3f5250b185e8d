"""Response schemas for the OpenAPI document (the handlers stream rows without re-validating)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel


class DailyBar(BaseModel):
    ticker: str
    trade_date: dt.date
    open: float
    high: float
    low: float
    close: float
    volume: int
    vwap: float | None  # sum(close * volume) / sum(volume) of the 1-minute bars; null on FMP rows
    vendor_vwap: float | None  # the vendor's own daily vwap (FMP), as received
    bar_count: int
    flagged_bars: int | None  # 1-minute bars a WARN check named (null on FMP rows)
    first_bar_ts: dt.datetime
    last_bar_ts: dt.datetime
    source: str


class DailyFeature(BaseModel):
    ticker: str
    trade_date: dt.date
    close: float
    daily_return: float | None
    return_5d: float | None
    return_20d: float | None
    realized_vol_20d: float | None


class PortfolioDay(BaseModel):
    portfolio_id: str
    trade_date: dt.date
    market_value: float
    daily_pnl: float | None
    daily_return: float | None
    holdings_count: int
    weights: dict[str, float]


class _Page(BaseModel):
    count: int
    next_cursor: str | None


class DailyBarsPage(_Page):
    data: list[DailyBar]


class DailyFeaturesPage(_Page):
    data: list[DailyFeature]


class PortfolioSummaryPage(_Page):
    data: list[PortfolioDay]


class TickersPage(_Page):
    data: list[dict[str, object]]


class TableFreshness(BaseModel):
    table: str
    latest_trade_date: dt.date | None
    rows: int


class Freshness(BaseModel):
    snapshot_taken_at: dt.datetime  # aws (Athena): when the freshness query ran
    warehouse_modified_at: dt.datetime | None  # null on aws: Glue has no single modification time
    tables: list[TableFreshness]


class Problem(BaseModel):
    detail: str
