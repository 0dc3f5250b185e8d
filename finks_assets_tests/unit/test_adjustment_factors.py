"""Gold adjustment factors (dbt on DuckDB) against yfinance's own ``auto_adjust``, and the
point-in-time view of them.

The lake is written by Finks' own code: AAPL's raw daily closes around its 4:1 split of
2020-08-31 as FMP-style daily bars (``silver/fmp_bars_1d``, built with daily_bars_from =
bars_1d), and its actions as yfinance's ``Ticker.actions`` returns them from a recorded-format
Yahoo chart payload (``fakes/yahoo_daily.py``), parsed and validated by the corporate-actions
adapter and silver transform. yfinance runs for real, offline, for both the actions and the
auto-adjusted closes the factors are compared with.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yfinance as yf

from finks_assets.defs.corporate_actions.assets import _typed_silver
from finks_assets.lib import market_calendar
from finks_assets.lib.lake.corporate_actions_layout import DATASET
from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.lake.writer import LakeWriter
from finks_assets.lib.sources.corporate_actions.yfinance_adapter import YFinanceActionsSource
from finks_assets.lib.transforms.corporate_actions import clean_actions
from finks_assets_tests.fakes.yahoo import isolated_yfinance
from finks_assets_tests.fakes.yahoo_daily import AAPL_2020, FakeYahooDaily

dbt_main = pytest.importorskip("dbt.cli.main")

PROJECT_DIR = Path(__file__).resolve().parents[2] / "finks_dbt"
SPLIT_DAY, DIVIDEND_DAY = dt.date(2020, 8, 31), dt.date(2020, 8, 7)
FETCHED_AT = pd.Timestamp("2020-09-10 22:00", tz="UTC")
MODELS = "+fct_daily_features +fct_daily_bars_adjusted"


def _release_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in this process, so the test can read it."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV
    DuckDBConnectionManager.close_all_connections()
    if env is not None:
        env.close()


class Gold:
    """A FINKS_DATA_DIR: a lake written by the lake writer, and dbt runs over it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.writer = LakeWriter(LakeStore.local(str(root / "lake")))

    def dbt(self, *args: str, **extra_vars: str):
        dbt_vars = {"lake_root": str(self.root / "lake"), "daily_bars_from": "bars_1d", **extra_vars}
        cli = [*args, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
               "--target-path", str(self.root / "dbt_target"), "--log-path", str(self.root / "logs"),
               "--vars", json.dumps(dbt_vars)]
        try:
            return dbt_main.dbtRunner().invoke(cli)
        finally:
            _release_duckdb()

    def build(self) -> None:
        result = self.dbt("build", "--select", MODELS, "--exclude-resource-type", "unit_test")
        bad = [f"{r.node.unique_id}: {r.status} {r.message}" for r in (result.result or [])
               if str(r.status) not in ("success", "pass")]
        assert result.success, f"dbt build failed: {result.exception or bad}"

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        with duckdb.connect(str(self.root / "warehouse.duckdb"), read_only=True) as con:
            return con.execute(sql, params or []).df()

    def write_daily_bars(self, closes: dict[dt.date, float], ticker: str = "AAPL") -> None:
        rows = [{"ticker": ticker, "ts": market_calendar.session(d).open_utc, "open": c, "high": c,
                 "low": c, "close": c, "volume": 1_000_000, "vwap": c, "source": "fmp",
                 "ingested_at": FETCHED_AT, "trade_date": d} for d, c in closes.items()]
        self.writer.write_partitions("silver", "fmp_bars_1d", pd.DataFrame(rows), list(closes))

    def write_actions(self, actions: pd.DataFrame, ticker: str = "AAPL") -> None:
        self.writer.write_partitions("silver", DATASET, _typed_silver({ticker: actions}), [ticker],
                                     by="ticker")


@pytest.fixture
def gold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Gold:
    monkeypatch.setenv("FINKS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FINKS_WAREHOUSE_PATH", raising=False)
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return Gold(tmp_path)


@pytest.fixture
def yahoo(tmp_path: Path) -> Iterator[FakeYahooDaily]:
    with isolated_yfinance(tmp_path / "yfinance-cache"):
        fake = FakeYahooDaily({"AAPL": AAPL_2020})
        yield fake
        assert fake.unexpected == []


def test_factors_equal_yfinance_auto_adjust_for_aapls_2020_split(gold: Gold,
                                                                  yahoo: FakeYahooDaily) -> None:
    source = YFinanceActionsSource(session=yahoo.session())
    fetch = source.fetch_actions(["AAPL"])
    assert fetch.failures == {}
    silver = clean_actions(source.parse(fetch.payloads["AAPL"]), "AAPL", "yfinance", FETCHED_AT)
    assert silver.quarantine.empty
    events = {(r.ex_date, r.kind): (r.split_ratio, r.cash_amount) for r in silver.actions.itertuples()}
    assert events[(SPLIT_DAY, "split")][0] == 4.0
    # Yahoo sends 0.205 (split-adjusted); silver keeps the 0.82 AAPL paid per share at the time.
    assert events[(DIVIDEND_DAY, "cash_dividend")][1] == pytest.approx(0.82, abs=1e-6)
    gold.write_daily_bars(AAPL_2020.closes)
    gold.write_actions(silver.actions)

    gold.build()

    factors = gold.query("select * from gold.fct_adjustment_factors order by trade_date")
    factors = factors.set_index(pd.to_datetime(factors["trade_date"]).dt.date)
    yahoo_adjusted = yf.Ticker("AAPL", session=yahoo.session()).history(
        start="2020-07-27", end="2020-09-05", interval="1d", auto_adjust=True)["Close"]
    yahoo_adjusted.index = yahoo_adjusted.index.date
    assert list(yahoo_adjusted.index) == list(factors.index) == sorted(AAPL_2020.closes)
    for day, adjusted in yahoo_adjusted.items():
        implied = adjusted / AAPL_2020.closes[day]  # yfinance's adjusted close / the raw close
        assert factors.loc[day, "cumulative_factor"] == pytest.approx(implied, abs=1e-6), day
    # The factors themselves, by hand.
    assert factors.loc[SPLIT_DAY, "split_factor"] == 0.25
    # 1e-9, not exact: Yahoo's 0.205 went through float32, so silver holds 0.8199999928.
    assert factors.loc[DIVIDEND_DAY, "dividend_factor"] == pytest.approx(1 - 0.82 / 455.61, abs=1e-9)
    assert factors.loc[dt.date(2020, 9, 4), "cumulative_factor"] == 1.0
    assert factors.loc[dt.date(2020, 8, 28), "cumulative_factor"] == 0.25

    # fct_daily_bars stays raw; the adjusted view and the features use the adjusted closes.
    raw = gold.query("select close from gold.fct_daily_bars where trade_date = ?", [SPLIT_DAY])
    assert raw["close"].iloc[0] == 129.04
    adjusted = gold.query("select trade_date, close, volume from gold.fct_daily_bars_adjusted "
                          "where trade_date = ?", [dt.date(2020, 8, 28)])
    assert adjusted["close"].iloc[0] == pytest.approx(499.23 / 4, abs=1e-9)
    assert adjusted["volume"].iloc[0] == 4_000_000
    features = gold.query("select trade_date, daily_return from gold.fct_daily_features "
                          "where trade_date in (?, ?) order by trade_date", [SPLIT_DAY, DIVIDEND_DAY])
    true_split_return = 129.04 * 4 / 499.23 - 1
    # The CRSP factor makes the ex-day return P_t / (P_t-1 - D) - 1 (the previous close less
    # the dividend is the price the stock "should" open at), as Yahoo's and zipline's do.
    true_dividend_return = 444.45 / (455.61 - 0.82) - 1
    assert features["daily_return"].iloc[1] == pytest.approx(true_split_return, abs=1e-9)
    assert features["daily_return"].iloc[0] == pytest.approx(true_dividend_return, abs=1e-9)


def test_point_in_time_adjusts_only_by_the_actions_known_then(gold: Gold) -> None:
    closes = {d: c for d, c in AAPL_2020.closes.items() if d >= dt.date(2020, 8, 3)}
    gold.write_daily_bars(closes)
    seen = {"split": pd.Timestamp("2020-08-31 22:00", tz="UTC"),  # found after the ex-date
            "cash_dividend": pd.Timestamp("2020-07-30 21:00", tz="UTC")}
    gold.write_actions(pd.DataFrame([
        {"ticker": "AAPL", "ex_date": SPLIT_DAY, "kind": "split", "split_ratio": 4.0,
         "cash_amount": None, "currency": None, "source": "fmp", "fetched_at": FETCHED_AT,
         "first_seen_at": seen["split"]},
        {"ticker": "AAPL", "ex_date": DIVIDEND_DAY, "kind": "cash_dividend", "split_ratio": None,
         "cash_amount": 0.82, "currency": "USD", "source": "fmp", "fetched_at": FETCHED_AT,
         "first_seen_at": seen["cash_dividend"]},
    ]))
    gold.build()

    def as_of(known_at: str) -> dict[dt.date, float]:
        result = gold.dbt("compile", "--inline",
                          # the macro validates known_at itself (last assertion below)
                          f"select * from {{{{ finks_adjusted_bars_as_of('{known_at}') }}}} as a")  # noqa: S608
        assert result.success, result.exception
        frame = gold.query(result.result.results[0].node.compiled_code)
        return dict(zip(pd.to_datetime(frame["trade_date"]).dt.date, frame["close"], strict=True))

    dividend = 1 - 0.82 / 455.61
    before_split_news = as_of("2020-08-31T21:59:59Z")
    assert before_split_news[dt.date(2020, 8, 6)] == pytest.approx(455.61 * dividend, abs=1e-9)
    assert before_split_news[dt.date(2020, 8, 28)] == pytest.approx(499.23, abs=1e-9)  # no split yet
    after = as_of("2020-09-01")
    assert after[dt.date(2020, 8, 28)] == pytest.approx(499.23 / 4, abs=1e-9)
    assert after[dt.date(2020, 8, 6)] == pytest.approx(455.61 * dividend / 4, abs=1e-9)
    nothing_known = as_of("2020-07-01")
    assert nothing_known[dt.date(2020, 8, 6)] == 455.61
    # Today's knowledge equals the stored view.
    view = gold.query("select trade_date, close from gold.fct_daily_bars_adjusted")
    assert dict(zip(pd.to_datetime(view["trade_date"]).dt.date, view["close"], strict=True)) == after

    with pytest.raises(AssertionError):
        as_of("2020-09-01'; drop table gold.fct_daily_bars; --")
