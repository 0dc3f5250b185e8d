"""YFinanceSource against the real yfinance code, with Yahoo played by an in-process fake.

Every request goes through a ``requests.Session`` whose only transport is
:class:`~finks_assets_tests.fakes.yahoo.FakeYahoo`; it raises on any URL it does not know, and
each test checks afterwards that no such request happened. yfinance's caches live in the
test's tmp dir and its process-wide state is reset around every test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
import yfinance as yf
from yfinance import base as yf_base
from yfinance import cache as yf_cache
from yfinance import data as yf_data

from finks_assets.lib import market_calendar
from finks_assets.lib.sources.base import CANONICAL_COLUMNS, BarSource
from finks_assets.lib.sources.yfinance_source import (
    MAX_SPAN,
    YFinanceSource,
    chunk_days,
    public_message,
)
from finks_assets.lib.tickers import InvalidTickerError
from finks_assets_tests.fakes.yahoo import (
    CRUMB,
    DEFAULT_NOW,
    Behaviour,
    FakeYahoo,
    bar_values,
    isolated_yfinance,
)

NOW = DEFAULT_NOW  # Mon 2025-12-01 21:00 UTC: the source's clock and the fake's agree
D = dt.date


@pytest.fixture(autouse=True)
def yf_cache_dir(tmp_path: Path) -> Iterator[Path]:
    cache_dir = tmp_path / "yfinance-cache"
    with isolated_yfinance(cache_dir):
        yield cache_dir


@pytest.fixture
def yahoo() -> Iterator[Callable[..., FakeYahoo]]:
    """Build fakes; afterwards fail the test if any of them saw an unmodelled request."""
    made: list[FakeYahoo] = []

    def make(**behaviours: Behaviour) -> FakeYahoo:
        made.append(FakeYahoo(behaviours, now=NOW))
        return made[-1]

    yield make
    for fake in made:
        assert fake.unexpected == [], f"unexpected requests: {fake.unexpected}"


class Sleeps(list[float]):
    """Records backoff waits instead of sleeping."""


def source_for(fake: FakeYahoo, sleeps: Sleeps | None = None, **kwargs: object) -> YFinanceSource:
    return YFinanceSource(
        session=fake.session(),
        sleep=(sleeps if sleeps is not None else Sleeps()).append,
        now=lambda: NOW,
        **kwargs,  # type: ignore[arg-type]
    )


def canonical(source: YFinanceSource, raw: pd.DataFrame, ticker: str) -> pd.DataFrame:
    return source.to_canonical(raw.assign(_ticker=ticker))


def per_day(bars: pd.DataFrame) -> dict[dt.date, int]:
    return bars.groupby(market_calendar.exchange_date(bars["ts"])).size().to_dict()


def test_implements_the_source_interface() -> None:
    source = YFinanceSource()
    assert isinstance(source, BarSource)
    assert source.name == "yfinance"


def test_two_tickers_over_two_sessions(yahoo: Callable[..., FakeYahoo]) -> None:
    fake = yahoo()
    source = source_for(fake)
    days = [D(2025, 11, 24), D(2025, 11, 25)]

    fetch = source.fetch_bars_1m(["AAPL", "MSFT"], days)

    assert fetch.source == "yfinance" and fetch.fetched_at == NOW
    for ticker in ("AAPL", "MSFT"):
        outcome = fetch.outcomes[ticker]
        assert (outcome.status, outcome.rows, outcome.error) == ("ok", 780, None)
        raw = fetch.frames[ticker]
        # Raw as yfinance returned it: index reset into "Datetime", New York time, vendor names.
        assert list(raw.columns) == [
            "Datetime",
            "Open",
            "High",
            "Low",
            "Close",
            "Adj Close",
            "Volume",
        ]
        assert str(raw["Datetime"].dt.tz) == "America/New_York"

        bars = canonical(source, raw, ticker)
        assert list(bars.columns) == list(CANONICAL_COLUMNS)
        assert per_day(bars) == {days[0]: 390, days[1]: 390}
        assert str(bars["ts"].dt.tz) == "UTC"
        first_open = market_calendar.session(days[0]).open_utc
        assert bars["ts"].iloc[0] == first_open == pd.Timestamp("2025-11-24 14:30", tz="UTC")
        assert bars["ts"].diff().dropna().min() == pd.Timedelta(minutes=1)
        assert (bars["ticker"] == ticker).all()
        assert bars[["open", "high", "low", "close"]].dtypes.eq("float64").all()
        assert bars["volume"].dtype == "float64"
        # Values are exactly what the payload carried, bar by bar.
        for i in (0, 200, len(bars) - 1):
            epoch = int(bars["ts"].iloc[i].timestamp())
            row = bars.iloc[i]
            got = (row["open"], row["high"], row["low"], row["close"], row["volume"])
            assert got == bar_values(ticker, epoch)

    one_minute = fake.chart_requests("AAPL")
    assert len(one_minute) == 1
    assert one_minute[0].params["period1"] == str(
        int(pd.Timestamp("2025-11-24", tz="America/New_York").timestamp())
    )
    assert one_minute[0].params["includePrePost"] == "False"
    assert fake.chart_requests("MSFT")[0].params["crumb"] == CRUMB  # yfinance's handshake ran


def test_half_day_after_thanksgiving_has_210_minutes(yahoo: Callable[..., FakeYahoo]) -> None:
    fake = yahoo()
    source = source_for(fake)

    fetch = source.fetch_bars_1m(["SPY"], [D(2025, 11, 26), D(2025, 11, 28)])

    bars = canonical(source, fetch.frames["SPY"], "SPY")
    assert per_day(bars) == {D(2025, 11, 26): 390, D(2025, 11, 28): 210}
    half_day = bars[market_calendar.exchange_date(bars["ts"]) == D(2025, 11, 28)]
    assert half_day["ts"].max() == pd.Timestamp("2025-11-28 17:59", tz="UTC")  # 12:59 New York
    assert fetch.outcomes["SPY"].rows == 600


def test_nine_sessions_are_fetched_in_chunks_of_at_most_seven_days(
    yahoo: Callable[..., FakeYahoo],
) -> None:
    fake = yahoo()
    source = source_for(fake)
    days = [s.date for s in market_calendar.sessions_between(D(2025, 11, 17), D(2025, 11, 28))]
    assert len(days) == 9  # Thanksgiving (27th) is closed

    fetch = source.fetch_bars_1m(["AAPL"], days)

    requests_1m = fake.chart_requests("AAPL")
    assert len(requests_1m) >= 2
    windows = [(int(r.params["period1"]), int(r.params["period2"])) for r in requests_1m]
    assert all(end - start <= 7 * 86_400 for start, end in windows)
    assert all(
        a_end <= b_start for (_, a_end), (b_start, _) in zip(windows, windows[1:], strict=False)
    )
    bars = canonical(source, fetch.frames["AAPL"], "AAPL")
    assert per_day(bars) == {d: market_calendar.session(d).minutes for d in days}
    assert fetch.outcomes["AAPL"].rows == 8 * 390 + 210
    assert bars["ts"].is_unique


def test_chunks_respect_the_span_across_a_dst_change() -> None:
    # 2025-11-02 ends daylight saving: Mon 27 Oct .. Sun 2 Nov in New York is 7 days + 1 hour.
    days = [D(2025, 10, 27) + dt.timedelta(days=i) for i in range(7)]
    chunks = chunk_days(days)
    assert len(chunks) == 2
    assert [d for chunk in chunks for d in chunk] == days
    for chunk in chunks:
        start = pd.Timestamp(chunk[0]).tz_localize("America/New_York")
        end = pd.Timestamp(chunk[-1] + dt.timedelta(days=1)).tz_localize("America/New_York")
        assert end - start <= MAX_SPAN


def test_days_older_than_30_days_are_not_requested(yahoo: Callable[..., FakeYahoo]) -> None:
    fake = yahoo()
    source = source_for(fake)

    fetch = source.fetch_bars_1m(["AAPL"], [D(2025, 10, 15), D(2025, 10, 16)])

    outcome = fetch.outcomes["AAPL"]
    assert (outcome.status, outcome.rows) == ("error", 0)
    assert "only serves 1-minute bars for the last 30 days" in (outcome.error or "")
    assert "2025-10-15" in (outcome.error or "")
    assert fake.chart_requests(interval=None) == []
    assert fetch.frames["AAPL"].empty


def test_mixed_old_and_recent_days_fetch_only_the_recent_ones(
    yahoo: Callable[..., FakeYahoo],
) -> None:
    fake = yahoo()
    source = source_for(fake)

    fetch = source.fetch_bars_1m(["AAPL"], [D(2025, 10, 15), D(2025, 11, 26)])

    (request,) = fake.chart_requests("AAPL")
    assert pd.Timestamp(int(request.params["period1"]), unit="s", tz="UTC") >= NOW - pd.Timedelta(
        days=30
    )
    outcome = fetch.outcomes["AAPL"]
    assert (outcome.status, outcome.rows) == ("ok", 390)
    assert "2025-10-15" in (outcome.error or "")  # the audit can say why that day is missing


def test_empty_result_is_an_empty_outcome(yahoo: Callable[..., FakeYahoo]) -> None:
    fake = yahoo(QUIET=Behaviour.empty())
    source = source_for(fake)

    fetch = source.fetch_bars_1m(["QUIET", "AAPL"], [D(2025, 11, 26)])

    assert fetch.outcomes["QUIET"].status == "empty"
    assert fetch.outcomes["QUIET"].rows == 0
    assert len(fake.chart_requests("QUIET")) == 1  # asked once, not retried
    assert fetch.frames["QUIET"].empty
    bars = canonical(source, fetch.frames["QUIET"], "QUIET")
    assert list(bars.columns) == list(CANONICAL_COLUMNS) and bars.empty
    assert fetch.outcomes["AAPL"].status == "ok"


def _seed_tz_cache() -> None:
    # The steady state in production: the symbol was listed once, so its timezone is cached.
    yf_cache.get_tz_cache().store("DEAD", "America/New_York")


def _info_fallback_spent(monkeypatch: pytest.MonkeyPatch) -> None:
    # yfinance asks `info` for a timezone only twice per process; after that it gives up at once.
    monkeypatch.setattr(yf_base, "_tz_info_fetch_ctr", 2)


@pytest.mark.parametrize(
    "setup",
    [
        pytest.param(lambda mp: None, id="first-lookup"),
        pytest.param(lambda mp: _info_fallback_spent(mp), id="info-fallback-spent"),
        pytest.param(lambda mp: _seed_tz_cache(), id="timezone-cached"),
    ],
)
def test_delisted_symbol_is_an_error_and_others_still_deliver(
    yahoo: Callable[..., FakeYahoo],
    monkeypatch: pytest.MonkeyPatch,
    setup: Callable[[pytest.MonkeyPatch], None],
) -> None:
    setup(monkeypatch)
    fake = yahoo(DEAD=Behaviour.delisted())
    source = source_for(fake)

    fetch = source.fetch_bars_1m(["DEAD", "AAPL"], [D(2025, 11, 26)])

    dead = fetch.outcomes["DEAD"]
    assert (dead.status, dead.rows) == ("error", 0)
    message = dead.error or ""
    assert "delisted" in message
    assert "?" not in message and CRUMB not in message  # no query strings, no crumb
    assert fetch.frames["DEAD"].empty
    assert (fetch.outcomes["AAPL"].status, fetch.outcomes["AAPL"].rows) == ("ok", 390)


def test_rate_limit_is_retried_with_growing_backoff(yahoo: Callable[..., FakeYahoo]) -> None:
    # yfinance retries every HTTP error once itself (with its other cookie strategy), so four
    # 429 answers are two failed yfinance calls: two backoffs, then the third call succeeds.
    fake = yahoo(AAPL=Behaviour.rate_limited(times=4))
    sleeps = Sleeps()
    source = source_for(fake, sleeps, backoff_seconds=2.0)

    fetch = source.fetch_bars_1m(["AAPL"], [D(2025, 11, 26)])

    assert (fetch.outcomes["AAPL"].status, fetch.outcomes["AAPL"].rows) == ("ok", 390)
    assert sleeps == [2.0, 4.0]
    assert len(fake.chart_requests("AAPL", interval=None)) == 4 + 2  # 4 refused, tz + 1m served


def test_rate_limit_forever_gives_up_after_max_attempts(yahoo: Callable[..., FakeYahoo]) -> None:
    fake = yahoo(AAPL=Behaviour.rate_limited())
    sleeps = Sleeps()
    source = source_for(fake, sleeps, max_attempts=3, backoff_seconds=1.5)

    fetch = source.fetch_bars_1m(["AAPL", "MSFT"], [D(2025, 11, 26)])

    outcome = fetch.outcomes["AAPL"]
    assert (outcome.status, outcome.rows) == ("error", 0)
    assert "rate limited" in (outcome.error or "")
    assert sleeps == [1.5, 3.0]  # no wait after the last attempt
    # One yfinance call per attempt; yfinance sends each one twice (its own retry on 4xx).
    assert len(fake.chart_requests("AAPL", interval=None)) == 2 * 3
    assert fetch.outcomes["MSFT"].status == "ok"


def test_null_bars_are_kept_as_nan_for_silver_to_quarantine(
    yahoo: Callable[..., FakeYahoo],
) -> None:
    fake = yahoo(AAPL=Behaviour.normal(null_minutes=frozenset({5})))
    source = source_for(fake)

    fetch = source.fetch_bars_1m(["AAPL"], [D(2025, 11, 26)])

    bars = canonical(source, fetch.frames["AAPL"], "AAPL")
    assert len(bars) == 390
    gap = bars[bars["ts"] == pd.Timestamp("2025-11-26 14:35", tz="UTC")]
    assert len(gap) == 1
    assert gap[["open", "high", "low", "close"]].isna().all(axis=None)
    assert gap["volume"].iloc[0] == 0  # yfinance's history() fills missing volume with 0
    assert bars.drop(gap.index)[["open", "close"]].notna().all(axis=None)


def test_invalid_ticker_is_refused_before_any_request(yahoo: Callable[..., FakeYahoo]) -> None:
    fake = yahoo()
    source = source_for(fake)
    with pytest.raises(InvalidTickerError):
        source.fetch_bars_1m(["AAPL", "../etc"], [D(2025, 11, 26)])
    assert fake.received == []


def test_unknown_urls_fail_loudly(yahoo: Callable[..., FakeYahoo]) -> None:
    fake = FakeYahoo(now=NOW)  # not via the fixture: this one is meant to see a stray request
    with pytest.raises(AssertionError, match="no route"):
        fake.session().get("https://example.com/anything?x=1")
    assert fake.unexpected == ["GET example.com/anything"]


def test_to_canonical_handles_an_empty_frame() -> None:
    bars = YFinanceSource().to_canonical(pd.DataFrame({"_ticker": pd.Series([], dtype=str)}))
    assert list(bars.columns) == list(CANONICAL_COLUMNS)
    assert bars.empty
    assert str(bars["ts"].dtype).endswith("UTC]")


def test_to_canonical_keeps_missing_volume_missing() -> None:
    raw = pd.DataFrame(
        {
            "Datetime": pd.to_datetime(["2025-11-26 09:30", "2025-11-26 09:31"]).tz_localize(
                "America/New_York"
            ),
            "Open": [1.0, None],
            "High": [1.5, None],
            "Low": [0.5, None],
            "Close": [1.2, None],
            "Adj Close": [1.2, None],
            "Volume": [10.0, None],
            "_ticker": ["AAPL", "AAPL"],
        }
    )
    bars = YFinanceSource().to_canonical(raw)
    assert bars["ts"].tolist() == [
        pd.Timestamp("2025-11-26 14:30", tz="UTC"),
        pd.Timestamp("2025-11-26 14:31", tz="UTC"),
    ]
    assert bars["volume"].dtype == "float64"
    assert bars["volume"].iloc[0] == 10 and pd.isna(bars["volume"].iloc[1])


def test_to_canonical_keeps_fractional_volume_for_silver_to_judge() -> None:
    raw = pd.DataFrame({
        "Datetime": pd.to_datetime(["2025-11-26 09:30"]).tz_localize("America/New_York"),
        "Open": [1.0], "High": [1.5], "Low": [0.5], "Close": [1.2], "Adj Close": [1.2],
        "Volume": [1.5], "_ticker": ["AAPL"],
    })
    assert YFinanceSource().to_canonical(raw)["volume"].tolist() == [1.5]  # not truncated to 1


def test_public_message_drops_query_strings() -> None:
    exc = RuntimeError(
        f"404 for url: https://query2.finance.yahoo.com/v10/x/DEAD?crumb={CRUMB}&a=1 failed"
    )
    message = public_message(exc)
    assert (
        message == "RuntimeError: 404 for url: https://query2.finance.yahoo.com/v10/x/DEAD failed"
    )


def test_yfinance_state_stays_in_the_tmp_dir_and_does_not_leak(
    yahoo: Callable[..., FakeYahoo], yf_cache_dir: Path, tmp_path: Path
) -> None:
    fake = yahoo()
    source_for(fake).fetch_bars_1m(["AAPL"], [D(2025, 11, 26)])
    assert (yf_cache_dir / "tkr-tz.db").exists()  # yfinance's sqlite caches went to tmp
    assert yf_cache._TzDBManager.get_location() == str(yf_cache_dir)
    assert yf_data.SingletonMeta._instances[yf_data.YfData]._session is not None

    with isolated_yfinance(tmp_path / "inner"):
        # A fresh singleton: the previous test session is gone, and nothing was created yet.
        assert yf_data.YfData not in yf_data.SingletonMeta._instances
        assert yf_cache._TzDBManager.get_location() == str(tmp_path / "inner")
    assert yf_data.YfData not in yf_data.SingletonMeta._instances
    assert yf_cache._TzDBManager.get_location() == str(yf_cache_dir)  # restored on exit
    assert yf.__version__.startswith("1.")
