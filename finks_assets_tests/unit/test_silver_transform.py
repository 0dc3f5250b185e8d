"""The bronze -> silver rules on hand-made bars: exactly the bad bars are quarantined."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from finks_assets.lib.quality.integrity import (
    check_in_session,
    check_ohlc_invariants,
    check_unique_ticker_ts,
)
from finks_assets.lib.transforms.silver_bars import clean_bars

DAY = dt.date(2025, 11, 25)  # regular session 14:30-21:00 UTC
OPEN = pd.Timestamp("2025-11-25 14:30", tz="UTC")
FETCH_1 = pd.Timestamp("2025-11-25 22:00", tz="UTC")
FETCH_2 = pd.Timestamp("2025-11-26 01:00", tz="UTC")


def bar(minute: int, ticker: str = "AAPL", fetched: pd.Timestamp = FETCH_1, **overrides):
    row = {
        "ticker": ticker, "ts": OPEN + pd.Timedelta(minutes=minute),
        "open": 100.0, "high": 101.0, "low": 99.0, "close": 100.5, "volume": 1000.0,
        "source": "synthetic", "ingested_at": fetched, "trade_date": DAY,
    }
    row.update(overrides)
    return row


def frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def test_good_bars_pass_through_typed_and_sorted() -> None:
    result = clean_bars(frame([bar(1, "MSFT"), bar(0), bar(1)]), [DAY])
    assert result.quarantine.empty
    assert list(zip(result.bars["ticker"], result.bars["ts"], strict=True)) == [
        ("AAPL", OPEN), ("AAPL", OPEN + pd.Timedelta(minutes=1)),
        ("MSFT", OPEN + pd.Timedelta(minutes=1)),
    ]
    assert result.bars["volume"].dtype == np.int64
    assert str(result.bars["ts"].dt.tz) == "UTC"


def test_latest_fetch_wins_on_duplicate_ticker_ts() -> None:
    result = clean_bars(frame([bar(0, close=100.5), bar(0, fetched=FETCH_2, close=100.25)]), [DAY])
    assert len(result.bars) == 1
    assert result.bars["close"].iloc[0] == 100.25
    assert result.superseded == 1


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"close": float("nan")}, "null_field"),
        ({"volume": None}, "null_field"),
        ({"ts": OPEN - pd.Timedelta(minutes=1)}, "out_of_session"),  # pre-market
        ({"ts": OPEN + pd.Timedelta(minutes=390)}, "out_of_session"),  # 16:00 is the close
        ({"ts": OPEN + pd.Timedelta(seconds=30)}, "misaligned_minute"),
        ({"low": 0.0}, "non_positive_price"),
        ({"volume": -5.0}, "negative_volume"),
        ({"high": 100.0}, "ohlc_invariant"),  # high below close
        ({"low": 100.75}, "ohlc_invariant"),  # low above open
    ],
)
def test_each_bad_bar_is_quarantined_with_its_reason(overrides: dict, reason: str) -> None:
    result = clean_bars(frame([bar(0), bar(5, **overrides)]), [DAY])
    assert len(result.bars) == 1 and result.bars["ts"].iloc[0] == OPEN
    assert result.quarantine["reason"].tolist() == [reason]


def test_bars_on_a_holiday_are_quarantined_as_market_closed() -> None:
    holiday = dt.date(2025, 11, 27)
    ts = pd.Timestamp("2025-11-27 15:00", tz="UTC")
    result = clean_bars(frame([bar(0, ts=ts, trade_date=holiday)]), [holiday])
    assert result.bars.empty
    assert result.quarantine["reason"].tolist() == ["market_closed"]


def test_half_day_close_is_respected() -> None:
    half = dt.date(2025, 11, 28)  # closes 18:00 UTC
    rows = [
        bar(0, ts=pd.Timestamp("2025-11-28 17:59", tz="UTC"), trade_date=half),
        bar(0, ts=pd.Timestamp("2025-11-28 18:00", tz="UTC"), trade_date=half),
    ]
    result = clean_bars(frame(rows), [half])
    assert len(result.bars) == 1
    assert result.quarantine["reason"].tolist() == ["out_of_session"]


def test_empty_input_gives_empty_outputs() -> None:
    result = clean_bars(pd.DataFrame(), [DAY])
    assert result.bars.empty and result.quarantine.empty and result.superseded == 0


def test_checks_pass_on_clean_silver_and_fail_on_broken_silver() -> None:
    clean = clean_bars(frame([bar(0), bar(1)]), [DAY]).bars
    assert check_ohlc_invariants(clean).passed
    assert check_unique_ticker_ts(clean).passed
    assert check_in_session(clean, [DAY]).passed

    broken = pd.concat([clean, clean.iloc[[0]]], ignore_index=True)
    broken.loc[1, "high"] = 1.0
    broken.loc[2, "ts"] = OPEN - pd.Timedelta(hours=2)
    ohlc = check_ohlc_invariants(broken)
    assert not ohlc.passed and ohlc.failing_rows == 1
    assert ohlc.metadata["failing_tickers"] == ["AAPL"]
    assert not check_in_session(broken, [DAY]).passed
    dupes = clean_bars(frame([bar(0)]), [DAY]).bars
    assert not check_unique_ticker_ts(pd.concat([dupes, dupes])).passed
