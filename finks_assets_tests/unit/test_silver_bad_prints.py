"""Bad prints and fractional volume are quarantined in silver, and the reasons are one list.

A bad print is a spike that reverts on the next bar: it must never reach gold (a planted 100x
bar once made a day's high 12,097 instead of 124). A real move that stays is kept.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from finks_assets.lib.dbt.project import DBT_PROJECT_DIR
from finks_assets.lib.transforms import silver_bars
from finks_assets.lib.transforms.silver_bars import QUARANTINE_REASONS, clean_bars

DAY = dt.date(2025, 11, 25)
OPEN = pd.Timestamp("2025-11-25 14:30", tz="UTC")
FETCH = pd.Timestamp("2025-11-25 22:00", tz="UTC")


def session(n: int = 60, ticker: str = "AAPL", seed: int = 1) -> pd.DataFrame:
    """``n`` valid bars around 124 with small moves."""
    rng = np.random.default_rng(seed)
    close = 124 * np.exp(np.cumsum(rng.normal(0, 0.0005, n)))
    open_ = np.concatenate(([124.0], close[:-1]))
    return pd.DataFrame({
        "ticker": ticker, "ts": pd.date_range(OPEN, periods=n, freq="1min"), "open": open_,
        "high": np.maximum(open_, close) + 0.02, "low": np.minimum(open_, close) - 0.02,
        "close": close, "volume": rng.integers(100, 5000, n).astype("float64"),
        "source": "synthetic", "ingested_at": FETCH, "trade_date": DAY,
    })


def minutes(frame: pd.DataFrame) -> list[int]:
    return [int((ts - OPEN) / pd.Timedelta(minutes=1)) for ts in frame["ts"]]


def test_a_100x_bar_that_reverts_is_quarantined_as_a_bad_print() -> None:
    bars = session()
    bars.loc[30, ["open", "high", "low", "close"]] *= 100
    result = clean_bars(bars, [DAY])
    assert result.quarantine_counts() == {"bad_print": 1}
    assert minutes(result.quarantine) == [30]
    assert result.quarantine["close"].iloc[0] == bars.loc[30, "close"]  # kept as received
    assert result.bars["high"].max() < 125  # the day's high is the real one


@pytest.mark.parametrize(("column", "factor"), [("high", 100.0), ("low", 0.01)])
def test_a_wick_spike_alone_is_a_bad_print(column: str, factor: float) -> None:
    bars = session()
    bars.loc[12, column] *= factor
    result = clean_bars(bars, [DAY])
    assert result.quarantine_counts() == {"bad_print": 1} and minutes(result.quarantine) == [12]


def test_a_move_that_stays_is_not_a_bad_print() -> None:
    bars = session()
    bars.loc[30:, ["open", "high", "low", "close"]] *= 1.8  # a real re-pricing
    result = clean_bars(bars, [DAY])
    assert result.quarantine.empty and len(result.bars) == 60


def test_a_spike_below_the_threshold_is_kept_and_the_threshold_is_a_parameter() -> None:
    bars = session()
    bars.loc[30, ["open", "high", "low", "close"]] *= 1.3
    assert clean_bars(bars, [DAY]).quarantine.empty  # 30% < 50%
    tight = clean_bars(bars, [DAY], bad_print_threshold=0.2)
    assert tight.quarantine_counts() == {"bad_print": 1}


def test_neighbours_are_the_passing_bars_of_the_same_ticker_and_day() -> None:
    bars = session()
    bars.loc[30, ["open", "high", "low", "close"]] *= 100
    bars.loc[31, "volume"] = -1  # the next bar is quarantined: bar 32 is the neighbour
    other = session(ticker="MSFT", seed=2)
    other.loc[0, ["open", "high", "low", "close"]] *= 100  # first bar: no previous bar
    result = clean_bars(pd.concat([bars, other], ignore_index=True), [DAY])
    assert result.quarantine[["ticker", "reason"]].values.tolist() == [
        ["AAPL", "bad_print"], ["AAPL", "negative_volume"]]
    assert len(result.bars) == 58 + 60
    assert result.bars.equals(result.bars.sort_values(["trade_date", "ticker", "ts"],
                                                      ignore_index=True))


def test_fractional_volume_is_quarantined_not_truncated() -> None:
    bars = session(5)
    bars.loc[2, "volume"] = 10.5
    bars.loc[3, "volume"] = 10.0  # a whole number sent as a float is fine
    result = clean_bars(bars, [DAY])
    assert result.quarantine_counts() == {"fractional_volume": 1}
    assert result.quarantine["volume"].tolist() == [10.5]
    assert 10 in result.bars["volume"].tolist() and len(result.bars) == 4
    assert result.bars["volume"].dtype == np.int64


def test_every_reason_the_rules_give_is_in_the_one_list() -> None:
    source = Path(silver_bars.__file__).read_text()
    named = set(re.findall(r"then '([a-z_]+)'", source)) | set(
        re.findall(r'assign\(reason="([a-z_]+)"\)', source))
    assert named == set(QUARANTINE_REASONS)


def test_gold_accepts_every_quarantine_reason() -> None:
    """dbt's accepted_values on the quarantine's reason must list exactly the same reasons,
    or gold's tests fail the first time a new reason is quarantined."""
    models = yaml.safe_load((DBT_PROJECT_DIR / "models/staging/silver/_silver__models.yml")
                            .read_text())["models"]
    quarantine = next(m for m in models if m["name"] == "stg_silver__bars_1m_quarantine")
    reason = next(c for c in quarantine["columns"] if c["name"] == "reason")
    accepted = next(t["accepted_values"] for t in reason["data_tests"]
                    if isinstance(t, dict) and "accepted_values" in t)
    assert sorted(accepted["arguments"]["values"]) == sorted(QUARANTINE_REASONS)
