"""The demo's split: the real daily job (bronze -> silver -> dbt gold, corporate actions
included), run as ``make demo`` runs it (``finks demo``'s ``run_range``) over 5 sessions with
the default universe on the synthetic source, shows a 4:1 split and a cash dividend in
``gold.fct_adjustment_factors``, and the split day's ``daily_return`` is the true return."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from finks_assets.cli.main import run_range
from finks_assets.lib.settings import FinksSettings

UNIVERSE_FILE = Path(__file__).resolve().parents[2] / "finks_assets/lib/data/universe.txt"
FIRST, LAST = "2026-11-16", "2026-11-20"  # 5 sessions, like `make demo`'s default window (synthetic
# actions start in 2026: lib/sources/synthetic_actions.ACTIONS_START)


def gold(settings: FinksSettings, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(sql).df()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> FinksSettings:
    root = tmp_path_factory.mktemp("demo")
    settings = FinksSettings.from_env({"FINKS_DATA_DIR": str(root / "finks"),
                                       "FINKS_UNIVERSE": str(UNIVERSE_FILE),
                                       "FINKS_SOURCE": "synthetic"})
    result = run_range(settings, FIRST, LAST)
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"bronze/corporate_actions", "silver/corporate_actions"} <= materialized
    return settings


def test_demo_window_shows_the_split_and_the_dividend(demo: FinksSettings) -> None:
    factors = gold(demo, "select * from gold.fct_adjustment_factors order by ticker, trade_date")
    assert len(factors) == 11 * 5  # every (ticker, session) of fct_daily_bars
    assert (factors["split_factor"] == 0.25).any(), "no 4:1 split in the demo window"
    dividends = factors[factors["dividend_factor"] < 1]
    assert len(dividends) and dividends["dividend_factor"].between(0.99, 1).all()
    latest = factors.groupby("ticker")["trade_date"].transform("max") == factors["trade_date"]
    assert (factors.loc[latest, "cumulative_factor"] == 1).all()  # back-adjusted to the latest day


def test_split_day_return_is_the_true_return(demo: FinksSettings) -> None:
    rows = gold(demo, """
        select b.ticker, b.trade_date, b.close,
               lag(b.close) over (partition by b.ticker order by b.trade_date) as previous_close,
               f.split_factor, f.dividend_factor, x.daily_return
        from gold.fct_daily_bars b
        join gold.fct_adjustment_factors f using (ticker, trade_date)
        join gold.fct_daily_features x using (ticker, trade_date)
        order by b.ticker, b.trade_date""")
    splits = rows[(rows["split_factor"] == 0.25) & rows["previous_close"].notna()]
    assert len(splits), "no 4:1 split after the window's first session"
    for split in splits.itertuples():
        # By hand: after a 4:1 split a holder of one old share has 4 shares, each worth close.
        true_return = 4 * split.close / split.previous_close - 1
        assert split.daily_return == pytest.approx(true_return, abs=1e-9), split.ticker
        assert abs(split.close / split.previous_close - 1) > 0.6  # the raw -75% drop is real
        assert abs(true_return) < 0.1


def test_a_split_is_not_a_loss_in_the_portfolio(demo: FinksSettings) -> None:
    """A held ticker's 4:1 split: its position moves by the ticker's true return that day
    (the split-adjusted close), not by -75% (the raw close times today's share count)."""
    rows = gold(demo, """
        select p.portfolio_id, p.ticker, p.trade_date, p.market_value,
               lag(p.market_value) over (partition by p.portfolio_id, p.ticker
                                         order by p.trade_date) as previous_value,
               f.split_factor, f.dividend_factor, x.daily_return
        from gold.fct_portfolio_positions p
        join gold.fct_adjustment_factors f using (ticker, trade_date)
        join gold.fct_daily_features x using (ticker, trade_date)""")
    splits = rows[(rows["split_factor"] != 1) & (rows["dividend_factor"] == 1)
                  & rows["previous_value"].notna()]
    assert len(splits), "no held ticker splits inside the demo window"
    moved = splits["market_value"] / splits["previous_value"] - 1
    assert (moved - splits["daily_return"]).abs().max() < 1e-9, splits
