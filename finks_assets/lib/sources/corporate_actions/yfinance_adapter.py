"""Corporate actions from Yahoo Finance through yfinance's own ``Ticker.actions``.

yfinance asks Yahoo's chart endpoint for the whole daily history with
``events=div,splits,capitalGains`` and returns one row per ex-date with ``Dividends`` and
``Stock Splits`` columns (index ``Date``, exchange time). Bronze keeps that frame as received
(Parquet, index reset), like the 1-minute bars.

Yahoo quotes dividends *split-adjusted*: AAPL's dividend of 2020-08-07 (USD 0.82 a share as
paid) shows as 0.205 after the 4:1 split of 2020-08-31. Silver stores the cash amount as paid,
so :meth:`YFinanceActionsSource.parse` multiplies each dividend back by the ratios of the
splits with a later ex-date. The CRSP factor ``1 - amount / previous close`` is the same
either way, as long as amount and close are in the same terms (raw with raw).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import requests
import yfinance as yf

from finks_assets.lib.sources.corporate_actions.base import ActionFetch, ActionPayload, parsed_frame
from finks_assets.lib.sources.yfinance_source import public_message
from finks_assets.lib.tickers import validate_tickers

PART = "actions.parquet"


class YFinanceActionsSource:
    """Splits and dividends from Yahoo via yfinance (no key)."""

    name = "yfinance"
    parts = (PART,)

    def __init__(self, *, session: requests.Session | None = None) -> None:
        """``session`` is handed to yfinance (tests pass one whose transport is a fake Yahoo)."""
        self._session = session

    def fetch_actions(self, tickers: Sequence[str]) -> ActionFetch:
        fetch = ActionFetch(source=self.name)
        for ticker in validate_tickers(tickers):
            try:
                actions = yf.Ticker(ticker, session=self._session).actions
            except Exception as exc:  # deliberately broad: one ticker must never sink the others
                fetch.failures[ticker] = public_message(exc)
                continue
            fetched_at = pd.Timestamp.now(tz="UTC")
            fetch.payloads[ticker] = ActionPayload(ticker, fetched_at, {PART: _to_parquet(actions)})
        return fetch

    def parse(self, payload: ActionPayload) -> pd.DataFrame:
        frame = pq.read_table(io.BytesIO(payload.parts[PART])).to_pandas()
        if frame.empty:
            return parsed_frame([])
        dates = pd.to_datetime(frame["Date"])
        ex_dates = (dates.dt.tz_localize(None) if dates.dt.tz is None else dates.dt.tz_convert(
            "America/New_York").dt.tz_localize(None)).dt.date
        splits = pd.to_numeric(frame.get("Stock Splits", 0.0), errors="coerce").fillna(0.0)
        dividends = pd.to_numeric(frame.get("Dividends", 0.0), errors="coerce").fillna(0.0)
        currency = frame.get("Dividends FX")
        split_days = [(d, r) for d, r in zip(ex_dates, splits, strict=True) if r]
        rows = []
        for i, (day, ratio, amount) in enumerate(zip(ex_dates, splits, dividends, strict=True)):
            if ratio:
                rows.append({"ticker": payload.ticker, "ex_date": day, "kind": "split",
                             "split_ratio": float(ratio), "cash_amount": None, "currency": None})
            if amount:
                later = 1.0
                for split_day, split_ratio in split_days:
                    if split_day > day and split_ratio > 0:
                        later *= split_ratio
                fx = currency.iloc[i] if currency is not None and currency.iloc[i] else "USD"
                rows.append({"ticker": payload.ticker, "ex_date": day, "kind": "cash_dividend",
                             "split_ratio": None, "cash_amount": float(amount) * later,
                             "currency": fx})
        return parsed_frame(rows)


def _to_parquet(actions: pd.DataFrame) -> bytes:
    """yfinance's frame, index reset into ``Date``, as Parquet bytes."""
    frame = actions.reset_index()
    if "Date" not in frame.columns:
        frame = frame.rename(columns={frame.columns[0]: "Date"})
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    return sink.getvalue()
