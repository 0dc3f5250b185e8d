"""The reconciliation check between gold daily bars built from 1-minute data and FMP EOD.

The synthetic source is deterministic, so the daily closes/volumes/VWAPs it will produce are
known up front; the loopback FMP serves exactly those, except one close and one vwap moved
beyond their tolerances.
Both paths run for real (fmp_eod_prices job, then the daily 1-minute pipeline whose gold
materialization triggers the check).
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd
import pytest

from finks_assets.cli.main import RANGE_END_TAG, RANGE_START_TAG, run_range
from finks_assets.definitions import build_definitions
from finks_assets.defs.fmp.jobs import FMP_EOD_JOB
from finks_assets.defs.fmp.reconciliation import CLOSE_TOLERANCE, VWAP_TOLERANCE, reconcile
from finks_assets.lib.dbt.project import DBT_PROJECT_DIR
from finks_assets.lib.settings import FinksSettings
from finks_assets.lib.sources.synthetic import SyntheticSource
from finks_assets_tests.fakes.fmp_server import FakeFmpServer

KEY = "recon-key-77"
TICKERS = ["AAPL", "MSFT"]
DAYS = [dt.date(2025, 11, 24), dt.date(2025, 11, 25)]


def synthetic_daily() -> pd.DataFrame:
    source = SyntheticSource(seed=7)
    fetch = source.fetch_bars_1m(TICKERS, DAYS)
    bars = pd.concat([source.to_canonical(f.assign(_ticker=t)) for t, f in fetch.frames.items()])
    bars["trade_date"] = bars["ts"].dt.tz_convert("America/New_York").dt.date
    bars = bars.sort_values("ts").assign(notional=lambda b: b["close"] * b["volume"])
    daily = bars.groupby(["ticker", "trade_date"]).agg(
        close=("close", "last"), volume=("volume", "sum"), notional=("notional", "sum"))
    return daily.assign(vwap=daily["notional"] / daily["volume"]).reset_index()


def test_reconcile_flags_only_rows_beyond_tolerance():
    ours = pd.DataFrame({"ticker": ["A", "A", "B"], "trade_date": [1, 2, 1],
                         "close": [100.0, 100.0, 50.0], "volume": [1000, 1000, 500]})
    theirs = ours.assign(close=[100.0 * (1 + CLOSE_TOLERANCE / 2), 103.0, 50.0],
                         volume=[1000, 1000, 800])
    compared, bad, vwap_compared = reconcile(ours, theirs)
    assert compared == 3 and vwap_compared == 0  # no vwap on either side: not compared
    assert list(zip(bad["ticker"], bad["trade_date"], strict=True)) == [("A", 2), ("B", 1)]  # close, volume


def test_reconcile_compares_vwap_where_both_sides_have_one():
    """Gold's 1-minute vwap against FMP's own: a day a bad print drags (180 against 121) is a
    mismatch, a day within the tolerance is not, and a null vwap (no volume) is not compared."""
    ours = pd.DataFrame({"ticker": ["A", "A", "A"], "trade_date": [1, 2, 3],
                         "close": [121.0] * 3, "volume": [1000] * 3, "vwap": [180.0, 121.0, None]})
    theirs = ours.assign(vwap=[121.0, 121.0 * (1 + VWAP_TOLERANCE / 2), 121.0])
    compared, bad, vwap_compared = reconcile(ours, theirs)
    assert (compared, vwap_compared) == (3, 2)
    assert bad[["trade_date", "vwap_1m", "vwap_fmp"]].values.tolist() == [[1, 180.0, 121.0]]
    assert bad["vwap_diff"].iloc[0] == pytest.approx(59 / 121)


@pytest.mark.skipif(not (DBT_PROJECT_DIR / "target" / "manifest.json").exists(),
                    reason="dbt manifest missing: run `make manifest`")
def test_check_fails_when_a_close_is_off(tmp_path, monkeypatch):
    monkeypatch.setenv("FMP_API_KEY", KEY)
    daily = synthetic_daily()
    with FakeFmpServer(api_key=KEY) as server, dg.DagsterInstance.ephemeral() as instance:
        for ticker, rows in daily.groupby("ticker"):
            server.eod_overrides[ticker] = [
                {"symbol": ticker, "date": r.trade_date.isoformat(), "open": r.close,
                 "high": r.close * 1.05, "low": r.close * 0.95,
                 "close": round(r.close * (1.02 if (ticker, r.trade_date) == ("MSFT", DAYS[1]) else 1), 4),
                 "volume": int(r.volume), "change": 0.0, "changePercent": 0.0,
                 "vwap": round(r.vwap * (1.5 if (ticker, r.trade_date) == ("AAPL", DAYS[0]) else 1), 4)}
                for r in rows.itertuples()]
        settings = FinksSettings.from_env({
            "FINKS_DATA_DIR": str(tmp_path / "finks"), "FINKS_UNIVERSE": ",".join(TICKERS),
            "FMP_API_KEY": KEY, "FMP_BASE_URL": server.base_url})
        eod = build_definitions(settings).resolve_job_def(FMP_EOD_JOB).execute_in_process(
            instance=instance, tags={RANGE_START_TAG: str(DAYS[0]), RANGE_END_TAG: str(DAYS[-1])})
        assert eod.success
        result = run_range(settings, str(DAYS[0]), str(DAYS[-1]), instance=instance)
    evaluation = next(e.event_specific_data for e in result.all_events
                      if e.event_type_value == "ASSET_CHECK_EVALUATION"
                      and e.event_specific_data.check_name == "reconciles_with_fmp_eod")
    assert not evaluation.passed
    assert evaluation.metadata["compared_ticker_days"].value == 4
    assert evaluation.metadata["vwap_compared_ticker_days"].value == 4
    assert evaluation.metadata["vwap_tolerance"].value == VWAP_TOLERANCE
    assert evaluation.metadata["vwap_mismatches"].value == 1
    assert evaluation.metadata["mismatched_keys"].value == ["AAPL@2025-11-24", "MSFT@2025-11-25"]
