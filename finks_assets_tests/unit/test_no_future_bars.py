"""No source delivers a bar before it has ended.

``end_offset=1`` exposes the current day's partition (and, on a holiday, the next session's),
and the synthetic source used to fabricate a whole session for it. The one rule,
:func:`market_calendar.bar_has_ended`, is applied by every source with the time of its own
fetch: a session in the future gets no bars and an outcome that says so; the current session
gets only its ended minutes, each identical to the same minute fetched after the close; an FMP
end-of-day row fetched before the close is not a daily bar. Half days and DST switches change
where the session starts and ends, so both are covered.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from finks_assets.defs.bars_1m.bronze import bronze_bars_1m
from finks_assets.lib import market_calendar
from finks_assets.lib.resources.factory import build_resources
from finks_assets.lib.resources.market_data import MarketDataResource
from finks_assets.lib.settings import FinksSettings
from finks_assets.lib.sources.fmp.parse import eod_bars
from finks_assets.lib.sources.synthetic import SyntheticSource
from finks_assets.lib.sources.yfinance_source import YFinanceSource
from finks_assets_tests.fakes.fmp_server import eod_row
from finks_assets_tests.fakes.yahoo import FakeYahoo, isolated_yfinance

D = dt.date


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def synthetic_at(now: str, seed: int = 7) -> SyntheticSource:
    return SyntheticSource(seed=seed, now=lambda: utc(now))


# -- the rule -----------------------------------------------------------------------------


def test_the_rule_counts_only_ended_minutes() -> None:
    session = market_calendar.session(D(2026, 11, 30))  # opens 14:30 UTC
    assert market_calendar.completed_minutes(session, utc("2026-11-30 05:00")) == 0
    assert market_calendar.completed_minutes(session, utc("2026-11-30 14:30")) == 0
    assert market_calendar.completed_minutes(session, utc("2026-11-30 14:30:59")) == 0
    assert market_calendar.completed_minutes(session, utc("2026-11-30 14:31")) == 1
    assert market_calendar.completed_minutes(session, utc("2026-11-30 15:00:30")) == 30
    assert market_calendar.completed_minutes(session, utc("2026-12-01 00:00")) == 390
    assert not market_calendar.has_closed(session, utc("2026-11-30 20:59"))
    assert market_calendar.has_closed(session, utc("2026-11-30 21:00"))


# -- synthetic ----------------------------------------------------------------------------


@pytest.mark.parametrize("now", [
    "2026-11-26 16:00",  # Thanksgiving: Friday's partition exists, its session has not begun
    "2026-11-27 14:30",  # Friday, the open itself: the first minute has not ended
    "2026-11-20 12:00",  # a week earlier
])
def test_a_future_session_gets_no_bars_and_says_why(now: str) -> None:
    fetch = synthetic_at(now).fetch_bars_1m(["AAPL", "MSFT"], [D(2026, 11, 27)])
    assert fetch.fetched_at == utc(now)
    for ticker in ("AAPL", "MSFT"):
        assert fetch.frames[ticker].empty
        outcome = fetch.outcomes[ticker]
        assert (outcome.status, outcome.rows) == ("empty", 0)
        assert "2026-11-27 had not started" in (outcome.error or "")
        assert "2026-11-27 14:30 UTC" in (outcome.error or "")  # when it opens


@pytest.mark.parametrize(("day", "now", "minutes", "first"), [
    (D(2026, 11, 30), "2026-11-30 15:00:30", 30, "2026-11-30 14:30"),  # EST: opens 14:30 UTC
    (D(2026, 11, 27), "2026-11-27 17:00", 150, "2026-11-27 14:30"),  # half day, before 13:00
    (D(2026, 11, 27), "2026-11-27 18:00", 210, "2026-11-27 14:30"),  # half day, at its close
    (D(2026, 3, 9), "2026-03-09 13:45", 15, "2026-03-09 13:30"),  # first EDT session: 13:30 UTC
    (D(2026, 11, 2), "2026-11-02 14:45", 15, "2026-11-02 14:30"),  # first EST session again
])
def test_the_current_session_gets_only_its_ended_minutes(
    day: D, now: str, minutes: int, first: str
) -> None:
    source = synthetic_at(now)
    partial = source.fetch_bars_1m(["NVDA"], [day]).frames["NVDA"]
    assert len(partial) == minutes
    assert partial["ts"].iloc[0] == utc(first)
    assert (partial["ts"] + pd.Timedelta(minutes=1) <= utc(now)).all()
    # Each delivered minute is the minute a fetch after the close returns.
    full = synthetic_at("2027-01-04 00:00").fetch_bars_1m(["NVDA"], [day]).frames["NVDA"]
    assert len(full) == market_calendar.session(day).minutes
    pd.testing.assert_frame_equal(partial, full.head(minutes))


def test_past_days_in_the_same_request_are_whole() -> None:
    now = "2026-11-27 16:00"  # during the half day
    fetch = synthetic_at(now).fetch_bars_1m(
        ["SPY"], [D(2026, 11, 25), D(2026, 11, 26), D(2026, 11, 27), D(2026, 11, 30)])
    bars = fetch.frames["SPY"]
    per_day = bars.groupby(market_calendar.exchange_date(bars["ts"])).size().to_dict()
    assert per_day == {D(2026, 11, 25): 390, D(2026, 11, 27): 90}  # Thanksgiving: no session
    assert fetch.outcomes["SPY"].status == "ok"
    assert "2026-11-30 had not started" in (fetch.outcomes["SPY"].error or "")


# -- through the bronze asset: the audit says why a session is empty -----------------------


class ClockedMarketData(MarketDataResource):
    """The configured synthetic source, with its clock set by the test."""

    now: str

    def bar_source(self) -> SyntheticSource:
        return SyntheticSource(seed=self.synthetic_seed, now=lambda: utc(self.now))


def test_bronze_for_a_session_that_has_not_started_lands_no_bars(tmp_path: Path) -> None:
    settings = FinksSettings.from_env(
        {"FINKS_DATA_DIR": str(tmp_path / "finks"), "FINKS_UNIVERSE": "AAPL,MSFT"})
    resources = {**build_resources(settings),
                 "market_data": ClockedMarketData(now="2025-11-27 16:00")}  # Thanksgiving
    with dg.instance_for_test() as instance:
        result = dg.materialize([bronze_bars_1m], resources=resources, instance=instance,
                                partition_key="2025-11-28", raise_on_error=False)
        assert result.success
        event = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=bronze_bars_1m.key, asset_partitions=["2025-11-28"]),
            limit=1).records[0].asset_materialization
    assert event.metadata["dagster/row_count"].value == 0
    check = result.get_asset_check_evaluations()[0]
    assert not check.passed  # WARN: the tickers did not deliver, and the audit says why
    lake = tmp_path / "finks" / "lake"
    assert not list((lake / "bronze").rglob("*.parquet"))  # no fabricated session
    with duckdb.connect() as con:
        audit = con.execute(
            "select ticker, status, rows_received, error from read_parquet(?) order by ticker",
            [str(lake / "audit/**/*.parquet")]).fetchall()
    assert [(t, s, r) for t, s, r, _ in audit] == [("AAPL", "empty", 0), ("MSFT", "empty", 0)]
    assert all("2025-11-28 had not started" in e for *_, e in audit)


# -- yfinance -----------------------------------------------------------------------------


@pytest.fixture
def yahoo_at(tmp_path: Path) -> Iterator[list[FakeYahoo]]:
    made: list[FakeYahoo] = []
    with isolated_yfinance(tmp_path / "yfinance-cache"):
        yield made
    for fake in made:
        assert fake.unexpected == [], f"unexpected requests: {fake.unexpected}"


def _yfinance(made: list[FakeYahoo], now: str) -> tuple[FakeYahoo, YFinanceSource]:
    fake = FakeYahoo(now=utc(now))
    made.append(fake)
    return fake, YFinanceSource(session=fake.session(), sleep=lambda _s: None,
                                now=lambda: utc(now))


def test_yfinance_drops_the_forming_minute_and_never_asks_for_a_future_session(
    yahoo_at: list[FakeYahoo],
) -> None:
    # The fake, like Yahoo, answers for the whole requested window, including the minutes
    # after "now"; the adapter keeps only the bars that have ended.
    now = "2025-11-28 16:00:30"  # during the half day after Thanksgiving
    fake, source = _yfinance(yahoo_at, now)
    fetch = source.fetch_bars_1m(["AAPL"], [D(2025, 11, 26), D(2025, 11, 28), D(2025, 12, 1)])
    bars = source.to_canonical(fetch.frames["AAPL"].assign(_ticker="AAPL"))
    per_day = bars.groupby(market_calendar.exchange_date(bars["ts"])).size().to_dict()
    assert per_day == {D(2025, 11, 26): 390, D(2025, 11, 28): 90}
    assert bars["ts"].max() == utc("2025-11-28 15:59")  # 16:00 is still forming
    outcome = fetch.outcomes["AAPL"]
    assert (outcome.status, outcome.rows) == ("ok", 480)
    assert "2025-12-01 had not started" in (outcome.error or "")
    requested_until = max(int(r.params["period2"]) for r in fake.chart_requests("AAPL"))
    assert requested_until <= pd.Timestamp("2025-11-29", tz="America/New_York").timestamp()


def test_yfinance_only_future_sessions_is_an_empty_outcome_without_a_request(
    yahoo_at: list[FakeYahoo],
) -> None:
    fake, source = _yfinance(yahoo_at, "2025-11-27 16:00")  # Thanksgiving
    fetch = source.fetch_bars_1m(["AAPL"], [D(2025, 11, 28)])
    assert fetch.frames["AAPL"].empty
    assert fetch.outcomes["AAPL"].status == "empty"
    assert "2025-11-28 had not started" in (fetch.outcomes["AAPL"].error or "")
    assert fake.chart_requests("AAPL") == []


# -- FMP end of day -----------------------------------------------------------------------


def test_fmp_row_fetched_before_the_close_is_not_a_daily_bar() -> None:
    days = [D(2025, 11, 26), D(2025, 11, 28)]  # the 28th is a half day: closes 18:00 UTC
    raw = json.dumps([eod_row("AAPL", d) for d in reversed(days)]).encode()
    during = eod_bars(raw, "AAPL", utc("2025-11-28 17:59"))
    assert during["trade_date"].tolist() == [D(2025, 11, 26)]
    after = eod_bars(raw, "AAPL", utc("2025-11-28 18:00"))
    assert sorted(after["trade_date"]) == days
    assert eod_bars(raw, "AAPL", utc("2025-11-26 20:00")).empty  # neither had closed
