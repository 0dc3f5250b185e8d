"""A corpus of broken bars mixed with good ones, run through the real silver step and checks.

Every failure mode is planted at a known place; each bad bar must be quarantined with the
right reason or flagged by the right check, every good bar must pass, and counts are exact.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from finks_assets.lib import market_calendar
from finks_assets.lib.quality.integrity import check_monotonic_ts
from finks_assets.lib.quality.suite import BLOCKING_CHECK_NAMES, run_bar_checks
from finks_assets.lib.quality.thresholds import BarQualityThresholds
from finks_assets.lib.transforms.silver_bars import clean_bars

DAY = dt.date(2025, 11, 25)  # regular session, 390 minutes
HALF_DAY = dt.date(2025, 11, 28)  # 13:00 close, 210 minutes
HOLIDAY = dt.date(2025, 11, 27)
FETCH = pd.Timestamp("2025-11-29 01:00", tz="UTC")
REFETCH = pd.Timestamp("2025-11-29 02:00", tz="UTC")
TICKERS = ["AAPL", "MSFT", "NVDA", "JPM", "XOM"]


def session_bars(ticker: str, day: dt.date, seed: int) -> pd.DataFrame:
    """A full, valid session of 1-minute bars (a gentle random walk with positive volume)."""
    session = market_calendar.session(day)
    assert session is not None
    n = session.minutes
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.0005, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    return pd.DataFrame({
        "ticker": ticker,
        "ts": pd.date_range(session.open_utc, periods=n, freq="1min"),
        "open": open_, "high": np.maximum(open_, close) + 0.01,
        "low": np.minimum(open_, close) - 0.01, "close": close,
        "volume": rng.integers(100, 5000, n).astype("float64"),
        "source": "synthetic", "ingested_at": FETCH, "trade_date": day,
    })


def minute(day: dt.date, m: int) -> pd.Timestamp:
    return market_calendar.session(day).open_utc + pd.Timedelta(minutes=m)


def build_corpus() -> tuple[pd.DataFrame, dict[str, int]]:
    """Good sessions for five tickers, then every defect planted at a known place."""
    frames = [session_bars(t, DAY, seed) for seed, t in enumerate(TICKERS)]
    bars = pd.concat(frames, ignore_index=True)
    at = {t: bars.index[bars["ticker"] == t] for t in TICKERS}

    # Quarantine reasons (AAPL): one bar each.
    bars.loc[at["AAPL"][10], "high"] = bars.loc[at["AAPL"][10], "low"] - 1  # ohlc_invariant
    bars.loc[at["AAPL"][20], "close"] = np.nan  # null_field
    bars.loc[at["AAPL"][30], "volume"] = -1  # negative_volume
    bars.loc[at["AAPL"][40], "low"] = 0.0  # non_positive_price
    # Outlier: a 100x unit mix-up on one AAPL bar (OHLC still consistent).
    spike = at["AAPL"][300]
    bars.loc[spike, ["open", "high", "low", "close"]] *= 100
    # Stale: NVDA minutes 200..229 print one close with zero volume (30 bars > 15).
    stale = at["NVDA"][200:230]
    frozen = bars.loc[at["NVDA"][199], "close"]
    bars.loc[stale, ["open", "high", "low", "close"]] = frozen
    bars.loc[stale, "volume"] = 0
    # A short quiet stretch (5 bars) is legal.
    quiet = at["XOM"][50:55]
    bars.loc[quiet, ["open", "high", "low", "close"]] = bars.loc[at["XOM"][49], "close"]
    bars.loc[quiet, "volume"] = 0
    # Gaps: MSFT misses minutes 100..104 and 380; JPM delivers only its first 100 minutes.
    drop = [*at["MSFT"][100:105], at["MSFT"][380], *at["JPM"][100:]]
    bars = bars.drop(index=drop)

    extra = [
        # out_of_session (pre-market) and misaligned_minute
        {**bars.loc[at["XOM"][0]].to_dict(), "ts": minute(DAY, -30)},
        {**bars.loc[at["XOM"][0]].to_dict(), "ts": minute(DAY, 7) + pd.Timedelta(seconds=30)},
        # a bar on the Thanksgiving holiday: market_closed
        {**bars.loc[at["XOM"][0]].to_dict(), "ts": pd.Timestamp("2025-11-27 15:00", tz="UTC"),
         "trade_date": HOLIDAY},
        # duplicate (ticker, ts): an older copy of an MSFT bar, superseded by the refetch below
        {**bars.loc[at["MSFT"][0]].to_dict(), "close": 1.0, "low": 0.5},
    ]
    refetch = {**bars.loc[at["MSFT"][0]].to_dict(), "ingested_at": REFETCH}
    bars = bars[~((bars["ticker"] == "MSFT") & (bars["ts"] == minute(DAY, 0)))]
    corpus = pd.concat([bars, pd.DataFrame(extra), pd.DataFrame([refetch])], ignore_index=True)
    corpus = corpus.sample(frac=1.0, random_state=3).reset_index(drop=True)  # storage disorder
    return corpus, {"spike_minute": 300}


def history_counts(days: int = 5, bars: int = 390) -> pd.DataFrame:
    earlier = market_calendar.sessions_between(DAY - dt.timedelta(days=14), DAY - dt.timedelta(days=1))
    return pd.DataFrame(
        [{"ticker": t, "trade_date": s.date, "bars": bars} for s in earlier[-days:] for t in TICKERS]
    )


@pytest.fixture(scope="module")
def checked():
    corpus, _ = build_corpus()
    days = [DAY, HOLIDAY]
    result = clean_bars(corpus, days)
    outcomes = run_bar_checks(result.bars, days, history_counts(), BarQualityThresholds())
    return corpus, result, outcomes


def test_each_bad_bar_is_quarantined_with_its_reason(checked) -> None:
    _, result, _ = checked
    reasons = result.quarantine.groupby("reason")["ticker"].apply(sorted).to_dict()
    assert reasons == {
        "market_closed": ["XOM"], "misaligned_minute": ["XOM"], "negative_volume": ["AAPL"],
        "non_positive_price": ["AAPL"], "null_field": ["AAPL"], "ohlc_invariant": ["AAPL"],
        "out_of_session": ["XOM"], "bad_print": ["AAPL"],
    }
    assert result.superseded == 1
    msft_open = result.bars[(result.bars["ticker"] == "MSFT") & (result.bars["ts"] == minute(DAY, 0))]
    assert msft_open["close"].tolist() != [1.0]  # the newer fetch won


def test_good_bars_pass_with_exact_counts(checked) -> None:
    corpus, result, outcomes = checked
    per_ticker = result.bars.groupby("ticker").size().to_dict()
    assert per_ticker == {"AAPL": 390 - 5, "MSFT": 390 - 6, "NVDA": 390, "JPM": 100, "XOM": 390}
    assert len(result.bars) + len(result.quarantine) + result.superseded == len(corpus)
    for name in BLOCKING_CHECK_NAMES:
        assert outcomes[name].passed, (name, outcomes[name].metadata)


def test_gaps_list_the_missing_minutes_per_ticker_session(checked) -> None:
    _, _, outcomes = checked
    gaps = outcomes["intraday_gaps"]
    assert not gaps.passed
    listed = [(r.ticker, r.gap_start, r.gap_end, r.missing_minutes) for r in gaps.offenders.itertuples()]
    assert listed == [
        ("AAPL", minute(DAY, 10), minute(DAY, 10), 1),  # quarantined bars leave holes too
        ("AAPL", minute(DAY, 20), minute(DAY, 20), 1),
        ("AAPL", minute(DAY, 30), minute(DAY, 30), 1),
        ("AAPL", minute(DAY, 40), minute(DAY, 40), 1),
        ("AAPL", minute(DAY, 300), minute(DAY, 300), 1),  # the bad print
        ("JPM", minute(DAY, 100), minute(DAY, 389), 290),
        ("MSFT", minute(DAY, 100), minute(DAY, 104), 5),
        ("MSFT", minute(DAY, 380), minute(DAY, 380), 1),
    ]
    assert gaps.failing_rows == 5 + 290 + 6
    assert gaps.metadata["incomplete_ticker_sessions"] == 3


def test_stale_run_flags_exactly_the_frozen_bars(checked) -> None:
    _, _, outcomes = checked
    stale = outcomes["stale_prices"]
    assert set(stale.offenders["ticker"]) == {"NVDA"}
    assert sorted(stale.offenders["ts"]) == [minute(DAY, m) for m in range(200, 230)]
    assert stale.metadata["stale_runs"] == 1


def test_the_reverting_spike_is_a_bad_print_not_an_outlier(checked) -> None:
    _, result, outcomes = checked
    prints = result.quarantine[result.quarantine["reason"] == "bad_print"]
    assert prints[["ticker", "ts"]].values.tolist() == [["AAPL", minute(DAY, 300)]]
    assert outcomes["outlier_jumps"].passed


def test_outlier_flags_only_the_bar_that_jumps() -> None:
    """The check on its own (raw bars): a one-bar 100x mix-up flags that bar only."""
    bars = session_bars("AAPL", DAY, 0)
    bars.loc[300, ["open", "high", "low", "close"]] *= 100
    outcomes = run_bar_checks(bars, [DAY], pd.DataFrame(), BarQualityThresholds())
    jumps = outcomes["outlier_jumps"]
    assert jumps.offenders[["ticker", "ts"]].values.tolist() == [["AAPL", minute(DAY, 300)]]
    assert jumps.offenders["bar_return"].iloc[0] == pytest.approx(99, rel=0.01)


def test_row_count_anomaly_flags_the_short_day_only(checked) -> None:
    _, _, outcomes = checked
    rows = outcomes["row_count_anomaly"]
    assert rows.offenders[["ticker", "bars"]].values.tolist() == [["JPM", 100]]
    assert rows.offenders["expected_bars"].iloc[0] == 390


def test_half_day_is_complete_and_not_an_anomaly() -> None:
    bars = pd.concat([session_bars(t, HALF_DAY, i) for i, t in enumerate(TICKERS)])
    result = clean_bars(bars, [HALF_DAY])
    assert len(result.bars) == 5 * 210
    history = history_counts()  # full 390-minute days
    outcomes = run_bar_checks(result.bars, [HALF_DAY], history, BarQualityThresholds())
    assert all(o.passed for o in outcomes.values()), {
        k: o.metadata for k, o in outcomes.items() if not o.passed}


def test_row_count_waits_for_enough_history() -> None:
    bars = session_bars("AAPL", DAY, 1).iloc[:50]
    thin = history_counts(days=2)
    outcome = run_bar_checks(clean_bars(bars, [DAY]).bars, [DAY], thin, BarQualityThresholds())
    assert outcome["row_count_anomaly"].passed


def test_blocking_checks_catch_what_a_broken_transform_lets_through() -> None:
    """Raw, uncleaned bars: the checks must name each defect independently of the transform."""
    bars = session_bars("AAPL", DAY, 1)
    bars.loc[5, "high"] = bars.loc[5, "low"] - 1
    bars.loc[6, "close"] = -1.0
    bars.loc[6, "low"] = -2.0
    bars.loc[7, "volume"] = -3
    bars = pd.concat([bars, bars.iloc[[8]]], ignore_index=True)  # duplicate, also out of order
    bars.loc[len(bars)] = {**bars.iloc[0].to_dict(), "ts": minute(DAY, -5)}
    out = run_bar_checks(bars, [DAY], pd.DataFrame(), BarQualityThresholds())
    assert out["ohlc_invariants"].offenders["ts"].tolist() == [minute(DAY, 5)]
    assert out["positive_prices"].offenders["ts"].tolist() == [minute(DAY, 6)]
    assert out["non_negative_volume"].offenders["ts"].tolist() == [minute(DAY, 7)]
    assert out["unique_ticker_ts"].failing_rows == 1
    assert out["monotonic_ts"].offenders["ts"].tolist() == [minute(DAY, 8), minute(DAY, -5)]
    assert out["bars_in_session"].offenders["ts"].tolist() == [minute(DAY, -5)]
    assert out["ohlc_invariants"].metadata["failing_tickers"] == ["AAPL"]
    assert out["ohlc_invariants"].failing_dates == {DAY}


def test_monotonic_passes_on_sorted_silver() -> None:
    silver = clean_bars(session_bars("AAPL", DAY, 1).sample(frac=1, random_state=1), [DAY]).bars
    assert check_monotonic_ts(silver).passed
