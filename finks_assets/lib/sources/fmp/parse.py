"""Raw FMP JSON -> typed frames for silver. Bronze never depends on this, so a parsing fix can be
replayed over old bronze without calling FMP again."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from finks_assets.lib import market_calendar

if TYPE_CHECKING:
    import pandas as pd

# ``vwap`` is FMP's own daily figure, kept under FMP's name in silver (the vendor's shape);
# gold calls it ``vendor_vwap`` (stg_fmp__bars_1d), because Finks' ``vwap`` is the 1-minute
# sum(close * volume) / sum(volume) and FMP does not document its formula.
BARS_1D_COLUMNS = ["ticker", "ts", "open", "high", "low", "close", "volume", "vwap", "source",
                   "ingested_at", "trade_date"]
PROFILE_COLUMNS = {  # FMP field -> silver column
    "symbol": "ticker", "companyName": "company_name", "exchange": "exchange",
    "exchangeFullName": "exchange_full_name", "sector": "sector", "industry": "industry",
    "currency": "currency", "country": "country", "marketCap": "market_cap", "price": "price",
    "beta": "beta", "cik": "cik", "isin": "isin", "ipoDate": "ipo_date", "isEtf": "is_etf",
    "isActivelyTrading": "is_actively_trading",
}
STATEMENT_KEYS = {  # kept for point-in-time joins: a row is known from acceptedDate on
    "symbol": "ticker", "date": "period_end_date", "fiscalYear": "fiscal_year", "period": "period",
    "reportedCurrency": "reported_currency", "filingDate": "filing_date",
    "acceptedDate": "accepted_at",
}


def _camel_to_snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def eod_bars(raw: bytes, ticker: str, fetched_at: pd.Timestamp) -> pd.DataFrame:
    """EOD rows as daily bars in the silver bar schema; ``ts`` is the session's open (UTC),
    i.e. the start of the daily bar, as 1-minute bars are labelled by their start."""
    import numpy as np
    import pandas as pd
    rows = [r for r in json.loads(raw) if r.get("symbol", ticker) == ticker]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in BARS_1D_COLUMNS})
    days = pd.to_datetime(frame["date"]).dt.date
    opens = {d: market_calendar.session(d) for d in set(days)}
    # FMP serves today's row during the session: fetched before the close it is a partial
    # bar, not a daily bar (market_calendar.bar_has_ended, the rule every source obeys).
    final = [opens[d] is None or market_calendar.has_closed(opens[d], fetched_at) for d in days]
    frame, days = frame[final].reset_index(drop=True), days[final].reset_index(drop=True)
    out = pd.DataFrame({
        "ticker": ticker,
        "ts": pd.to_datetime([opens[d].open_utc if opens[d] else pd.NaT for d in days], utc=True),
        **{c: pd.to_numeric(frame[c], errors="coerce").astype("float64")
           for c in ("open", "high", "low", "close")},
        "volume": pd.to_numeric(frame["volume"], errors="coerce").astype("Int64"),
        "vwap": pd.to_numeric(frame.get("vwap", np.nan), errors="coerce").astype("float64"),
        "source": "fmp",
        "ingested_at": fetched_at,
        "trade_date": days,
    })
    return out[BARS_1D_COLUMNS]


def profiles(raw: bytes, ticker: str, fetched_at: pd.Timestamp) -> pd.DataFrame:
    import pandas as pd
    frame = pd.DataFrame(json.loads(raw))
    frame = frame.reindex(columns=list(PROFILE_COLUMNS)).rename(columns=PROFILE_COLUMNS)
    frame = frame[frame["ticker"] == ticker]
    frame["market_cap"] = pd.to_numeric(frame["market_cap"], errors="coerce").astype("float64")
    for column in ("price", "beta"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame["ipo_date"] = pd.to_datetime(frame["ipo_date"], errors="coerce").dt.date
    frame["fetched_at"] = fetched_at
    return frame.reset_index(drop=True)


def statements(raw: bytes, ticker: str, fetched_at: pd.Timestamp) -> pd.DataFrame:
    """Every statement field, typed: keys renamed (see STATEMENT_KEYS), line items as doubles in
    snake_case (``netIncome`` -> ``net_income``)."""
    import pandas as pd
    frame = pd.DataFrame(json.loads(raw))
    frame = frame[frame["symbol"] == ticker]
    out = frame.rename(columns=STATEMENT_KEYS)
    for column in out.columns:
        if column in STATEMENT_KEYS.values() or column == "cik":
            continue
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    out = out.rename(columns={c: _camel_to_snake(c) for c in out.columns if c not in STATEMENT_KEYS.values()})
    out["period_end_date"] = pd.to_datetime(out["period_end_date"]).dt.date
    out["filing_date"] = pd.to_datetime(out["filing_date"], errors="coerce").dt.date
    out["accepted_at"] = pd.to_datetime(out["accepted_at"], errors="coerce")  # US/Eastern wall time
    out["fiscal_year"] = pd.to_numeric(out["fiscal_year"], errors="coerce").astype("Int64")
    out["fetched_at"] = fetched_at
    return out.reset_index(drop=True)
