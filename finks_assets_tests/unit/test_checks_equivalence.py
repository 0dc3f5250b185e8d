"""Every bar check's exact outcome on realistic silver bars with planted faults.

Guards a rewrite of the checks for speed: the frame is synthetic silver (20 tickers, three
sessions including the 13:00 half day, and the Thanksgiving holiday in the window), and each
fault is planted at a known bar. The expected offenders, counts, metadata and sample order were
derived from the planted faults (and match what the checks returned before the rewrite), so a
faster implementation must return exactly the same outcomes, not merely "fail" the same checks.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from finks_assets.lib import market_calendar
from finks_assets.lib.quality.anomalies import check_outlier_jumps, check_stale_prices
from finks_assets.lib.quality.check_base import SAMPLE_ROWS, CheckOutcome
from finks_assets.lib.quality.coverage import check_intraday_gaps
from finks_assets.lib.quality.integrity import check_monotonic_ts, check_unique_ticker_ts
from finks_assets.lib.quality.suite import BAR_CHECKS, run_bar_checks
from finks_assets.lib.quality.thresholds import BarQualityThresholds
from finks_assets.lib.sources.synthetic import SyntheticSource
from finks_assets.lib.transforms.silver_bars import canonical_from_bronze, clean_bars

D1, D2, HOLIDAY, D3 = (dt.date(2025, 11, d) for d in (25, 26, 27, 28))  # D3: 13:00 half day
# Silver's trade_date is datetime64, so offender frames hold Timestamps.
TD1, TD2, THOLIDAY, TD3 = (pd.Timestamp(d) for d in (D1, D2, HOLIDAY, D3))
DAYS = [D1, D2, HOLIDAY, D3]
SESSIONS = [D1, D2, D3]
FETCHED_AT = pd.Timestamp("2025-11-29 01:00", tz="UTC")
TICKERS = [
    "AAPL", "MSFT", "NVDA", "JPM", "XOM", "CVX", "KO", "AMZN", "GOOG", "META",
    "TSLA", "NFLX", "BAC", "WMT", "PFE", "INTC", "DIS", "CSCO", "ORCL", "PEP",
]
PRICES = ["open", "high", "low", "close"]


def synthetic_silver(tickers: list[str], sessions: list[dt.date], seed: int = 11) -> pd.DataFrame:
    """Silver bars as the pipeline makes them: synthetic source -> bronze payloads -> clean_bars."""
    source = SyntheticSource(seed=seed)
    fetch = source.fetch_bars_1m(tickers, sessions)
    raw = pd.concat([fetch.frames[t].assign(_ticker=t) for t in tickers], ignore_index=True)
    raw["_fetched_at"] = FETCHED_AT
    tables = []
    for day in sessions:
        s = market_calendar.session(day)
        in_day = raw[(raw["ts"] >= s.open_utc) & (raw["ts"] < s.close_utc)]
        tables.append(pa.Table.from_pandas(in_day, preserve_index=False))
    return clean_bars(canonical_from_bronze(source, tables, sessions), sessions).bars


def minute(day: dt.date, m: int) -> pd.Timestamp:
    return market_calendar.session(day).open_utc + pd.Timedelta(minutes=m)


class Planter:
    """Edits a silver frame by (ticker, day, minute) and keeps rows in a chosen storage order.

    Each row carries a sort position (its original index); inserted rows take a position next
    to an existing bar, so the final frame is the silver order plus the planted disorder.
    """

    def __init__(self, silver: pd.DataFrame) -> None:
        self.bars = silver.reset_index(drop=True)
        self.pos = pd.Series(np.arange(len(self.bars), dtype="float64"))
        self.extra: list[tuple[float, dict]] = []
        self.dropped: list[int] = []
        self._at = {(r.ticker, r.ts): i for i, r in enumerate(
            self.bars[["ticker", "ts"]].itertuples(index=False))}

    def at(self, ticker: str, day: dt.date, m: int) -> int:
        return self._at[(ticker, minute(day, m))]

    def set(self, ticker: str, day: dt.date, minutes: range | list[int], **values: object) -> None:
        for m in minutes:
            for column, value in values.items():
                self.bars.loc[self.at(ticker, day, m), column] = value

    def scale(self, ticker: str, day: dt.date, minutes: range | list[int], factor: float) -> None:
        rows = [self.at(ticker, day, m) for m in minutes]
        self.bars.loc[rows, PRICES] *= factor

    def freeze(self, ticker: str, cells: list[tuple[dt.date, int]], close: float) -> None:
        """Zero volume and one price on each (day, minute): a vendor repeating its last print."""
        rows = [self.at(ticker, day, m) for day, m in cells]
        self.bars.loc[rows, PRICES] = close
        self.bars.loc[rows, "volume"] = 0

    def copy_after(self, anchor: int, **changes: object) -> None:
        self.extra.append((self.pos[anchor] + 0.5, {**self.bars.loc[anchor].to_dict(), **changes}))

    def copy_before(self, anchor: int, **changes: object) -> None:
        self.extra.append((self.pos[anchor] - 0.5, {**self.bars.loc[anchor].to_dict(), **changes}))

    def drop(self, ticker: str, day: dt.date, minutes: range) -> None:
        self.dropped += [self.at(ticker, day, m) for m in minutes]

    def drop_ticker_day(self, ticker: str, day: dt.date) -> None:
        mask = (self.bars["ticker"] == ticker) & (self.bars["trade_date"] == pd.Timestamp(day))
        self.dropped += np.flatnonzero(mask.to_numpy()).tolist()

    def swap(self, a: int, b: int) -> None:
        self.pos[a], self.pos[b] = self.pos[b], self.pos[a]

    def frame(self) -> pd.DataFrame:
        kept = self.bars.assign(_pos=self.pos).drop(index=self.dropped)
        added = pd.DataFrame([row for _, row in self.extra]).astype(self.bars.dtypes.to_dict())
        added["_pos"] = [p for p, _ in self.extra]
        out = pd.concat([kept, added], ignore_index=True).sort_values("_pos", kind="stable")
        return out.drop(columns="_pos").reset_index(drop=True)


def faulty_silver() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The planted frame and the untouched silver it was planted into."""
    silver = synthetic_silver(TICKERS, SESSIONS)
    p = Planter(silver)
    close = silver.set_index(["ticker", "ts"])["close"]

    # Value rules (AAPL, day 1): one bar each.
    row = p.at("AAPL", D1, 10)
    p.set("AAPL", D1, [10], high=min(silver.loc[row, "open"], silver.loc[row, "close"]) - 0.5)
    p.set("AAPL", D1, [20], close=np.nan)  # null_field
    p.set("AAPL", D1, [30], volume=-5)  # negative_volume
    p.set("AAPL", D1, [40], low=0.0)  # non_positive_price
    # Keys and order: an adjacent exact duplicate (unique only), a duplicate stored at the end
    # of the ticker's day (unique and monotonic), two swapped neighbours (monotonic only).
    p.copy_after(p.at("MSFT", D2, 0))
    p.copy_after(p.at("NVDA", D1, 389), **p.bars.loc[p.at("NVDA", D1, 100)].to_dict())
    p.swap(p.at("JPM", D2, 200), p.at("JPM", D2, 201))
    # Stale runs: 20 bars (flagged), 15 (legal: not more than 15), 16 (flagged), 18 across the
    # night from day 1 to day 2 (flagged: one run), and 20 bars in two prices of 10 (legal).
    p.freeze("XOM", [(D1, m) for m in range(100, 120)], close[("XOM", minute(D1, 99))])
    p.freeze("XOM", [(D2, m) for m in range(300, 315)], close[("XOM", minute(D2, 299))])
    p.freeze("XOM", [(D2, m) for m in range(320, 336)], close[("XOM", minute(D2, 319))])
    overnight = [(D1, m) for m in range(382, 390)] + [(D2, m) for m in range(10)]
    p.freeze("CVX", overnight, close[("CVX", minute(D1, 381))])
    p.freeze("KO", [(D1, m) for m in range(50, 60)], close[("KO", minute(D1, 49))])
    p.freeze("KO", [(D1, m) for m in range(60, 70)], close[("KO", minute(D1, 49))] + 0.05)
    # Jumps: a one-bar 100x spike, a level shift that the next session's open reverses, spikes
    # at a ticker's 2nd and 3rd bar (1 and 2 trailing closes), a spike on its 1st bar (the bar
    # after it is the one flagged), a spike with a null close in its trailing window, a one-bar
    # drop to a hundredth, and a +40% one-bar move that stays under the 50% threshold.
    p.scale("AMZN", D1, [200], 100)
    p.scale("GOOG", D2, range(150, 390), 2)
    p.scale("META", D1, [2], 3)
    p.scale("TSLA", D1, [1], 3)
    p.scale("NFLX", D1, [0], 3)
    p.scale("AAPL", D1, [25], 100)
    p.scale("META", D3, [100], 0.01)
    p.scale("BAC", D2, [100], 1.4)
    # Coverage: three missing minutes, a half day's afternoon missing, a ticker absent a day,
    # a missing minute in a session whose row count the duplicate above makes whole again,
    # and a minute whose bar came 30 s late (in session, but no bar *at* that minute).
    p.drop("BAC", D1, range(50, 53))
    p.drop("MSFT", D2, range(5, 6))
    p.set("KO", D2, [7], ts=minute(D2, 7) + pd.Timedelta(seconds=30))
    p.drop("WMT", D3, range(100, 210))
    p.drop_ticker_day("PFE", D2)
    # Out of session: a pre-open bar stored before the first bar, a bar dated on the holiday.
    first = p.at("INTC", D1, 0)
    p.copy_before(first, ts=minute(D1, -5))
    holiday_ts = pd.Timestamp("2025-11-27 15:00", tz="UTC").as_unit(silver["ts"].dt.unit)
    p.copy_after(p.at("INTC", D2, 389), ts=holiday_ts,
                trade_date=pd.Timestamp(HOLIDAY))
    return p.frame(), silver


def history_counts() -> pd.DataFrame:
    """Five full earlier sessions per ticker, plus IBM, seen only in history."""
    earlier = market_calendar.sessions_between(D1 - dt.timedelta(days=14), D1 - dt.timedelta(days=1))
    return pd.DataFrame(
        [{"ticker": t, "trade_date": s.date, "bars": 390}
         for s in earlier[-5:] for t in [*TICKERS, "IBM"]]
    )


@pytest.fixture(scope="module")
def planted() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, CheckOutcome]]:
    bars, silver = faulty_silver()
    return bars, silver, run_bar_checks(bars, DAYS, history_counts(), BarQualityThresholds())


def keys(result: CheckOutcome | pd.DataFrame, *columns: str) -> list[tuple]:
    frame = result.offenders if isinstance(result, CheckOutcome) else result
    return [tuple(row) for row in frame[list(columns)].itertuples(index=False)]


def assert_sample_mirrors_offenders(result: CheckOutcome, columns: list[str]) -> None:
    expected = result.offenders[columns].head(SAMPLE_ROWS).astype(str).to_dict(orient="records")
    assert result.metadata["sample"] == expected
    assert result.metadata["failing_rows"] == result.failing_rows
    assert result.passed == (result.failing_rows == 0)


def test_every_check_ran_and_the_untouched_tickers_pass(planted) -> None:
    bars, _, outcomes = planted
    assert set(outcomes) == {c.name for c in BAR_CHECKS}
    assert not any(o.passed for o in outcomes.values())
    untouched = {"DIS", "CSCO", "ORCL", "PEP"}
    for name, result in outcomes.items():
        assert not untouched & set(result.offending_tickers()), name
    assert len(bars) == 20 * 990 + 4 - 4 - 110 - 390  # 4 rows in, 114 minutes and a day out


def test_value_rules_name_each_planted_bar(planted) -> None:
    _, _, outcomes = planted
    ohlc = outcomes["ohlc_invariants"]
    assert keys(ohlc, "ticker", "ts", "rule") == [
        ("AAPL", minute(D1, 10), "ohlc_invariant"), ("AAPL", minute(D1, 20), "null_field")]
    assert np.isnan(ohlc.offenders["close"].iloc[1])
    assert keys(outcomes["positive_prices"], "ticker", "ts") == [("AAPL", minute(D1, 40))]
    assert keys(outcomes["non_negative_volume"], "ticker", "ts", "volume") == [
        ("AAPL", minute(D1, 30), -5)]
    for name in ("ohlc_invariants", "positive_prices", "non_negative_volume"):
        result = outcomes[name]
        assert result.metadata["failing_tickers"] == ["AAPL"]
        assert result.metadata["failing_trade_dates"] == [D1.isoformat()]
        assert list(result.offenders.columns[:8]) == [
            "ticker", "ts", "trade_date", "open", "high", "low", "close", "volume"]
    assert_sample_mirrors_offenders(ohlc, [*ohlc.offenders.columns[:8], "rule"])


def test_duplicates_and_disorder(planted) -> None:
    _, _, outcomes = planted
    unique = outcomes["unique_ticker_ts"]
    assert keys(unique, "ticker", "ts", "copies") == [
        ("MSFT", minute(D2, 0), 2), ("NVDA", minute(D1, 100), 2)]
    assert unique.failing_rows == 2
    assert unique.metadata["failing_trade_dates"] == [D1.isoformat(), D2.isoformat()]
    assert_sample_mirrors_offenders(unique, ["ticker", "ts", "copies"])
    monotonic = outcomes["monotonic_ts"]
    assert keys(monotonic, "ticker", "ts", "previous_ts") == [
        ("NVDA", minute(D1, 100), minute(D1, 389)), ("JPM", minute(D2, 200), minute(D2, 201))]
    assert monotonic.metadata["failing_tickers"] == ["JPM", "NVDA"]
    assert_sample_mirrors_offenders(monotonic, ["ticker", "ts", "previous_ts"])


def test_out_of_session_bars(planted) -> None:
    _, _, outcomes = planted
    result = outcomes["bars_in_session"]
    holiday_ts = pd.Timestamp("2025-11-27 15:00", tz="UTC")
    assert keys(result, "ticker", "ts", "trade_date") == [
        ("INTC", minute(D1, -5), TD1), ("INTC", holiday_ts, THOLIDAY)]
    assert result.offenders["open_utc"].iloc[0] == minute(D1, 0)
    assert pd.isna(result.offenders["open_utc"].iloc[1])
    assert result.metadata["failing_trade_dates"] == [D1.isoformat(), HOLIDAY.isoformat()]


def test_gaps_are_minute_ranges_per_ticker_session(planted) -> None:
    _, _, outcomes = planted
    gaps = outcomes["intraday_gaps"]
    assert keys(gaps, "ticker", "trade_date", "gap_start", "gap_end", "missing_minutes",
                "session_minutes", "missing_in_session") == [
        ("BAC", TD1, minute(D1, 50), minute(D1, 52), 3, 390, 3),
        ("KO", TD2, minute(D2, 7), minute(D2, 7), 1, 390, 1),
        ("MSFT", TD2, minute(D2, 5), minute(D2, 5), 1, 390, 1),
        ("WMT", TD3, minute(D3, 100), minute(D3, 209), 110, 210, 110),
    ]
    assert gaps.failing_rows == 115
    assert gaps.metadata["incomplete_ticker_sessions"] == 4
    assert gaps.metadata["max_missing_minutes"] == 0
    assert_sample_mirrors_offenders(
        gaps, ["ticker", "trade_date", "gap_start", "gap_end", "missing_minutes"])


def test_stale_runs_longer_than_the_limit(planted) -> None:
    _, silver, outcomes = planted
    stale = outcomes["stale_prices"]
    cvx = [minute(D1, m) for m in range(382, 390)] + [minute(D2, m) for m in range(10)]
    xom = [minute(D1, m) for m in range(100, 120)] + [minute(D2, m) for m in range(320, 336)]
    assert keys(stale, "ticker", "ts") == [("CVX", ts) for ts in cvx] + [("XOM", ts) for ts in xom]
    assert stale.failing_rows == 54
    assert stale.metadata["stale_runs"] == 3
    assert stale.metadata["failing_trade_dates"] == [D1.isoformat(), D2.isoformat()]
    runs = stale.offenders.drop_duplicates(["ticker", "run_start"])
    assert keys(runs, "ticker", "run_start", "run_bars") == [
        ("CVX", minute(D1, 382), 18), ("XOM", minute(D1, 100), 20), ("XOM", minute(D2, 320), 16)]
    close = silver.set_index(["ticker", "ts"])["close"]
    assert runs["close"].tolist() == [
        close[("CVX", minute(D1, 381))], close[("XOM", minute(D1, 99))],
        close[("XOM", minute(D2, 319))]]
    assert (stale.offenders["volume"] == 0).all()
    assert_sample_mirrors_offenders(stale, ["ticker", "run_start", "run_bars", "close"])


def test_outliers_flag_the_bar_that_starts_each_jump(planted) -> None:
    bars, _, outcomes = planted
    jumps = outcomes["outlier_jumps"]
    assert keys(jumps, "ticker", "ts") == [
        ("AAPL", minute(D1, 25)), ("AMZN", minute(D1, 200)),
        ("GOOG", minute(D2, 150)), ("GOOG", minute(D3, 0)),
        ("META", minute(D1, 2)), ("META", minute(D3, 100)),
        ("NFLX", minute(D1, 1)), ("TSLA", minute(D1, 1)),
        # TSLA's 3rd bar falls back to normal, but its trailing median averages the ticker's
        # only two earlier closes, one of them the spike: it sits ~50% below that median.
        ("TSLA", minute(D1, 2)),
    ]
    closes = {t: g.sort_values("ts")["close"].to_numpy() for t, g in bars.groupby("ticker")}
    # Trailing medians over up to 10 earlier closes, nulls ignored (AAPL's minute 20 is null).
    aapl = closes["AAPL"][15:25]
    expected_medians = [
        np.median(aapl[~np.isnan(aapl)]), np.median(closes["AMZN"][190:200]),
        np.median(closes["META"][0:2]), closes["NFLX"][0], closes["TSLA"][0],
    ]
    medians = jumps.offenders.set_index(["ticker", "ts"])["trailing_median"]
    got = [medians[("AAPL", minute(D1, 25))], medians[("AMZN", minute(D1, 200))],
           medians[("META", minute(D1, 2))], medians[("NFLX", minute(D1, 1))],
           medians[("TSLA", minute(D1, 1))], medians[("TSLA", minute(D1, 2))]]
    expected_medians.append((closes["TSLA"][0] + closes["TSLA"][1]) / 2)
    assert got == pytest.approx(expected_medians, rel=1e-12)
    returns = jumps.offenders.set_index(["ticker", "ts"])["bar_return"]
    assert returns[("AMZN", minute(D1, 200))] == pytest.approx(99, rel=0.02)
    assert returns[("META", minute(D3, 100))] == pytest.approx(-0.99, rel=0.02)
    expected_return = round(jumps.offenders["close"] / jumps.offenders["prev_close"] - 1, 6)
    assert jumps.offenders["bar_return"].tolist() == pytest.approx(expected_return.tolist())
    assert jumps.metadata["max_abs_return"] == 0.5
    assert_sample_mirrors_offenders(jumps, ["ticker", "ts", "prev_close", "close", "bar_return"])


def test_row_counts_against_the_trailing_median(planted) -> None:
    _, _, outcomes = planted
    rows = outcomes["row_count_anomaly"]
    assert keys(rows, "ticker", "trade_date", "bars", "session_minutes", "expected_bars") == [
        ("IBM", TD1, 0, 390, 390), ("IBM", TD2, 0, 390, 390), ("IBM", TD3, 0, 210, 210),
        ("PFE", TD2, 0, 390, 390), ("WMT", TD3, 100, 210, 210),
    ]
    assert rows.offenders["ratio"].tolist() == [0.0, 0.0, 0.0, 0.0, round(100 / 210, 3)]
    assert rows.metadata["history_sessions"] == 5
    assert_sample_mirrors_offenders(rows, ["ticker", "trade_date", "bars", "expected_bars", "ratio"])


def test_clean_silver_passes_every_check(planted) -> None:
    _, silver, _ = planted
    outcomes = run_bar_checks(silver, DAYS, history_counts(), BarQualityThresholds())
    assert {n: o.failing_rows for n, o in outcomes.items() if not o.passed} == {
        "row_count_anomaly": 3}  # IBM, seen only in history, has no bars today


def assert_same_outcome(a: CheckOutcome, b: CheckOutcome) -> None:
    assert (a.passed, a.failing_rows) == (b.passed, b.failing_rows)
    assert repr(a.metadata) == repr(b.metadata)  # repr: NaN in a sample compares unequal
    pd.testing.assert_frame_equal(a.offenders, b.offenders, check_exact=True)


def test_each_check_alone_matches_the_shared_run(planted) -> None:
    """A check called with a frame opens its own connection; it must agree with the suite's."""
    bars, _, outcomes = planted
    alone = {
        "unique_ticker_ts": check_unique_ticker_ts(bars),
        "monotonic_ts": check_monotonic_ts(bars),
        "intraday_gaps": check_intraday_gaps(bars, DAYS),
        "stale_prices": check_stale_prices(bars),
        "outlier_jumps": check_outlier_jumps(bars),
    }
    for name, result in alone.items():
        assert_same_outcome(result, outcomes[name])


def test_a_column_arrow_cannot_convert_still_finds_the_same_bars(planted) -> None:
    """Mixed objects in a bar column fall back to DuckDB's pandas scan (which types the column
    as text here); the sequence checks must still name the same bars."""
    bars, _, outcomes = planted
    mixed = bars.assign(trade_date=bars["trade_date"].astype(object))
    mixed.loc[0, "trade_date"] = D1.isoformat()
    with pytest.raises(pa.ArrowException):
        pa.Table.from_pandas(mixed[["trade_date"]])
    fallback = run_bar_checks(mixed, DAYS, history_counts(), BarQualityThresholds())
    for name in ("unique_ticker_ts", "monotonic_ts", "stale_prices", "outlier_jumps",
                 "intraday_gaps", "bars_in_session"):
        assert fallback[name].failing_rows == outcomes[name].failing_rows, name
        columns = ["ticker", "gap_start"] if name == "intraday_gaps" else ["ticker", "ts"]
        assert keys(fallback[name], *columns) == keys(outcomes[name], *columns), name


def test_nanosecond_timestamps_give_the_same_outcomes(planted) -> None:
    """The ordering is computed on the timestamps' own unit: nanoseconds (which overflowed
    the old packed int64 sort key over long windows) give the same outcomes."""
    bars, _, outcomes = planted
    ns = bars.assign(ts=bars["ts"].astype("datetime64[ns, UTC]"))
    other = run_bar_checks(ns, DAYS, history_counts(), BarQualityThresholds())
    for name, result in outcomes.items():
        assert_same_outcome(other[name], result)
