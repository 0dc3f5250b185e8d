from __future__ import annotations

import datetime as dt

import pandas as pd

from finks_assets.lib import market_calendar
from finks_assets.lib.sources.base import BarSource
from finks_assets.lib.sources.synthetic import SyntheticSource
from finks_assets_tests.conftest import THANKSGIVING_WEEK


def test_implements_the_source_interface() -> None:
    assert isinstance(SyntheticSource(), BarSource)


def test_bars_follow_the_xnys_calendar_with_half_days_and_holidays() -> None:
    fetch = SyntheticSource().fetch_bars_1m(["AAPL"], THANKSGIVING_WEEK)
    bars = SyntheticSource().to_canonical(fetch.frames["AAPL"].assign(_ticker="AAPL"))
    per_day = bars.groupby(market_calendar.exchange_date(bars["ts"])).size().to_dict()
    assert per_day == {
        dt.date(2025, 11, 24): 390,
        dt.date(2025, 11, 25): 390,
        dt.date(2025, 11, 26): 390,
        dt.date(2025, 11, 28): 210,  # half day: 09:30-13:00
    }
    assert dt.date(2025, 11, 27) not in per_day  # Thanksgiving
    first = bars["ts"].iloc[0]
    assert first == pd.Timestamp("2025-11-24 14:30", tz="UTC")  # 09:30 New York = bar start
    assert bars["ts"].diff().dropna().min() == pd.Timedelta(minutes=1)


def test_bars_are_deterministic_and_independent_of_the_request() -> None:
    day = [dt.date(2025, 11, 25)]
    alone = SyntheticSource(seed=7).fetch_bars_1m(["MSFT"], day).frames["MSFT"]
    together = SyntheticSource(seed=7).fetch_bars_1m(["AAPL", "MSFT"], THANKSGIVING_WEEK)
    in_week = together.frames["MSFT"]
    in_week = in_week[in_week["ts"].dt.date == dt.date(2025, 11, 25)].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, in_week)
    other_seed = SyntheticSource(seed=8).fetch_bars_1m(["MSFT"], day).frames["MSFT"]
    assert not other_seed["close"].equals(alone["close"])


def test_bars_are_valid_and_volume_is_u_shaped() -> None:
    bars = SyntheticSource().fetch_bars_1m(["NVDA"], [dt.date(2025, 11, 25)]).frames["NVDA"]
    assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()
    assert (bars["low"] <= bars[["open", "close"]].min(axis=1)).all()
    assert (bars[["open", "high", "low", "close"]] > 0).all().all()
    assert (bars["volume"] > 0).all()
    edges = pd.concat([bars["volume"].head(30), bars["volume"].tail(30)]).mean()
    assert edges > 1.5 * bars["volume"].iloc[165:225].mean()


def test_holiday_only_request_returns_empty_outcomes() -> None:
    fetch = SyntheticSource().fetch_bars_1m(["AAPL"], [dt.date(2025, 12, 25)])
    assert fetch.outcomes["AAPL"].status == "empty"
    assert fetch.frames["AAPL"].empty
