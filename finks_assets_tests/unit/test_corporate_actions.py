"""Corporate actions, bronze to silver: the synthetic schedule and its effect on the synthetic
bars, the silver rules (quarantine reasons, first_seen_at), the FMP adapter over the loopback
FMP server, and the Dagster assets materialized on a temporary lake."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from finks_assets.defs.corporate_actions.assets import (
    bronze_corporate_actions,
    silver_corporate_actions,
)
from finks_assets.lib import market_calendar
from finks_assets.lib.lake.corporate_actions_layout import DATASET, QUARANTINE, read_silver
from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.resources.fmp import FmpResource
from finks_assets.lib.resources.lake import LakeResource
from finks_assets.lib.resources.market_data import MarketDataResource
from finks_assets.lib.resources.universe import UniverseResource
from finks_assets.lib.sources import synthetic_actions
from finks_assets.lib.sources.corporate_actions.base import parsed_frame
from finks_assets.lib.sources.corporate_actions.fmp_adapter import FmpActionsSource
from finks_assets.lib.sources.corporate_actions.synthetic_adapter import SyntheticActionsSource
from finks_assets.lib.sources.fmp.client import FmpClient
from finks_assets.lib.sources.synthetic import SyntheticSource
from finks_assets.lib.tickers import parse_universe
from finks_assets.lib.transforms.corporate_actions import clean_actions
from finks_assets_tests.fakes.fmp_server import FakeFmpServer, Reply, unauthorized

UNIVERSE_FILE = Path(__file__).resolve().parents[2] / "finks_assets/lib/data/universe.txt"
NOW = pd.Timestamp("2025-12-01 21:00", tz="UTC")
T1 = pd.Timestamp("2025-11-20 22:00", tz="UTC")
T2 = pd.Timestamp("2025-11-21 22:00", tz="UTC")


def _closes(ticker: str, days: list[dt.date]) -> dict[dt.date, float]:
    frame = SyntheticSource().fetch_bars_1m([ticker], days).frames[ticker]
    return frame.groupby(market_calendar.exchange_date(frame["ts"]))["close"].last().to_dict()


# --------------------------------------------------------------------------- synthetic schedule


def test_every_window_of_five_sessions_has_a_4_for_1_split_and_a_dividend() -> None:
    """The demo's window (the last 5 sessions) always shows both, whatever the date: the
    schedule repeats every 10 sessions, so 10 consecutive windows cover every case."""
    universe = parse_universe(str(UNIVERSE_FILE))
    sessions = [s.date for s in market_calendar.sessions_between(dt.date(2026, 10, 1),
                                                                  dt.date(2026, 11, 27))]
    source = SyntheticActionsSource(seed=7)
    for start in range(10):
        window = sessions[start:start + 5]
        events = [e for t in universe for e in source.events(t, window[0], window[-1])]
        assert any(e["type"] == "split" and e["numerator"] == 4 for e in events), window
        assert any(e["type"] == "dividend" for e in events), window


def test_synthetic_bars_fall_to_a_quarter_on_the_split_ex_date() -> None:
    ticker = "TSLA"
    events = SyntheticActionsSource(seed=7).events(ticker, dt.date(2026, 11, 1), dt.date(2026, 11, 27))
    split = next(dt.date.fromisoformat(e["date"]) for e in events
                 if e["type"] == "split" and e["numerator"] == 4)
    before = synthetic_actions.previous_session(split)
    closes = _closes(ticker, [before, split])
    assert 0.2 < closes[split] / closes[before] < 0.3  # -75% in raw prices, +-5% of noise
    assert synthetic_actions.price_multiplier(7, ticker, split) == pytest.approx(
        synthetic_actions.price_multiplier(7, ticker, before) / 4 / (1 - synthetic_actions.DIVIDEND_YIELD))


def test_a_ticker_without_a_phase_has_no_actions_and_unchanged_prices() -> None:
    assert synthetic_actions.phase(7, "AAPL") is None
    assert SyntheticActionsSource(seed=7).events("AAPL", dt.date(2015, 1, 2), dt.date(2026, 11, 27)) == []
    assert synthetic_actions.price_multiplier(7, "AAPL", dt.date(2026, 11, 24)) == 1.0


def test_no_synthetic_actions_before_actions_start() -> None:
    """Sessions before ACTIONS_START keep the bars they had before corporate actions existed."""
    universe = parse_universe(str(UNIVERSE_FILE))
    start = synthetic_actions.ACTIONS_START
    for ticker in universe:
        assert SyntheticActionsSource(seed=7).events(
            ticker, dt.date(2015, 1, 2), start - dt.timedelta(days=1)) == []
        assert synthetic_actions.price_multiplier(7, ticker, dt.date(2025, 11, 25)) == 1.0


def test_synthetic_dividend_amount_is_the_yield_of_the_previous_open() -> None:
    events = SyntheticActionsSource(seed=7).events("MSFT", dt.date(2026, 11, 1), dt.date(2026, 11, 27))
    dividend = next(e for e in events if e["type"] == "dividend")
    ex = dt.date.fromisoformat(dividend["date"])
    before = synthetic_actions.previous_session(ex)
    frame = SyntheticSource().fetch_bars_1m(["MSFT"], [before]).frames["MSFT"]
    assert dividend["dividend"] == pytest.approx(0.004 * frame["open"].iloc[0], abs=1e-4)


# --------------------------------------------------------------------------- silver rules


def _parsed(*rows: dict) -> pd.DataFrame:
    base = {"ticker": "MSFT", "ex_date": "2025-11-24", "kind": "split", "split_ratio": 2.0,
            "cash_amount": None, "currency": None}
    return parsed_frame([{**base, **row} for row in rows])


def test_bad_rows_are_quarantined_with_their_reason() -> None:
    parsed = _parsed(
        {},  # good split
        {"ticker": "A;DROP"}, {"ticker": "AAPL"}, {"ex_date": "24/11/2025"}, {"kind": "merger"},
        {"split_ratio": 0.0}, {"split_ratio": 1.0}, {"split_ratio": float("inf")},
        {"ex_date": "2025-11-25", "kind": "cash_dividend", "split_ratio": None, "cash_amount": -1.0,
         "currency": "USD"},
        {"ex_date": "2025-11-25", "kind": "cash_dividend", "split_ratio": None, "cash_amount": 0.5,
         "currency": "usd"},
        {"ex_date": "2025-11-26", "split_ratio": 3.0}, {"ex_date": "2025-11-26", "split_ratio": 2.0},
    )
    result = clean_actions(parsed, "MSFT", "fmp", T1)
    assert result.actions[["ex_date", "kind", "split_ratio"]].to_dict("records") == [
        {"ex_date": dt.date(2025, 11, 24), "kind": "split", "split_ratio": 2.0}]
    assert result.quarantine["reason"].tolist() == [
        "invalid_ticker", "ticker_mismatch", "invalid_ex_date", "unknown_kind",
        "invalid_split_ratio", "invalid_split_ratio", "invalid_split_ratio",
        "invalid_cash_amount", "invalid_currency", "conflicting_split", "conflicting_split"]


def test_two_dividends_on_one_ex_date_are_summed() -> None:
    dividend = {"kind": "cash_dividend", "split_ratio": None, "currency": "USD"}
    result = clean_actions(_parsed({**dividend, "cash_amount": 0.5}, {**dividend, "cash_amount": 1.25}),
                           "MSFT", "fmp", T1)
    assert result.actions["cash_amount"].tolist() == [1.75] and result.quarantine.empty


def test_first_seen_at_survives_refetches_until_the_value_changes() -> None:
    first = clean_actions(_parsed({}, {"ex_date": "2025-11-20"}), "MSFT", "fmp", T1).actions
    assert (first["first_seen_at"] == T1).all()
    again = clean_actions(_parsed({}, {"ex_date": "2025-11-20", "split_ratio": 3.0},
                                  {"ex_date": "2025-11-28"}), "MSFT", "fmp", T2, first).actions
    seen = dict(zip(again["ex_date"], again["first_seen_at"], strict=True))
    assert seen == {dt.date(2025, 11, 20): T2,  # restated ratio: a new event
                    dt.date(2025, 11, 24): T1,  # unchanged: first seen at the first fetch
                    dt.date(2025, 11, 28): T2}  # new
    assert (again["fetched_at"] == T2).all()


# --------------------------------------------------------------------------- FMP adapter


def test_fmp_splits_and_dividends_over_the_loopback_server() -> None:
    with FakeFmpServer() as fmp:
        fmp.script("NVDA", Reply(200, b'{"Error Message": "Limit Reach"}'), endpoint="splits")
        source = FmpActionsSource(lambda: FmpClient(fmp.api_key, base_url=fmp.base_url,
                                                    max_retries=0))
        fetch = source.fetch_actions(["AAPL", "MSFT", "NVDA"])
        assert {(r.path, r.params["symbol"]) for r in fmp.requests} >= {
            ("/stable/splits", "AAPL"), ("/stable/dividends", "AAPL"), ("/stable/splits", "MSFT")}
        assert all("apikey" not in r.params for r in fmp.requests)
    assert set(fetch.payloads) == {"AAPL", "MSFT"} and "Limit Reach" in fetch.failures["NVDA"]
    assert fetch.payloads["MSFT"].parts == {"splits.json": b"[]", "dividends.json": b"[]"}
    aapl = clean_actions(source.parse(fetch.payloads["AAPL"]), "AAPL", "fmp", T1)
    assert aapl.quarantine.empty
    rows = aapl.actions[["ex_date", "kind", "split_ratio", "cash_amount", "currency"]]
    assert rows.astype(object).where(rows.notna(), None).to_dict("records") == [
        {"ex_date": dt.date(2014, 6, 9), "kind": "split", "split_ratio": 7.0, "cash_amount": None,
         "currency": None},
        {"ex_date": dt.date(2020, 8, 7), "kind": "cash_dividend", "split_ratio": None,
         "cash_amount": 0.82, "currency": "USD"},  # `dividend`, as paid (not adjDividend 0.205)
        {"ex_date": dt.date(2020, 8, 31), "kind": "split", "split_ratio": 4.0, "cash_amount": None,
         "currency": None},
    ]


def test_fmp_rejected_key_fails_the_fetch() -> None:
    with FakeFmpServer() as fmp:
        fmp.script("AAPL", unauthorized())
        source = FmpActionsSource(lambda: FmpClient(fmp.api_key, base_url=fmp.base_url))
        with pytest.raises(Exception, match="401"):
            source.fetch_actions(["AAPL", "MSFT"])
        assert len(fmp.requests) == 1  # stopped at once


# --------------------------------------------------------------------------- Dagster assets


def _resources(root: Path, tickers: list[str]) -> dict:
    return {"market_data": MarketDataResource(source="synthetic"), "fmp": FmpResource(),
            "lake": LakeResource(root=str(root)),
            "universe": UniverseResource(tickers=tickers)}


def test_bronze_and_silver_assets_on_a_local_lake(tmp_path: Path) -> None:
    resources = _resources(tmp_path / "lake", ["MSFT", "AAPL"])
    result = dg.materialize([bronze_corporate_actions, silver_corporate_actions],
                            resources=resources)
    assert result.success
    store = LakeStore.local(str(tmp_path / "lake"))
    bronze = store.list_files("bronze/source=synthetic/dataset=corporate_actions", ".json",
                              recursive=True)
    assert len(bronze) == 2
    msft = read_silver(store, DATASET, "MSFT")
    assert set(msft["kind"]) == {"split", "cash_dividend"} and len(msft) > 80  # since ACTIONS_START
    assert read_silver(store, DATASET, "AAPL").empty
    assert read_silver(store, QUARANTINE, "MSFT").empty
    first_seen = msft.set_index(["ex_date", "kind"])["first_seen_at"]
    with open(next(b for b in bronze if "ticker=MSFT" in b), "rb") as raw:
        assert len(json.loads(raw.read())) == len(msft)  # the vendor payload, as received

    silver_files = [store.list_parquet(f"silver/{dataset}/ticker={ticker}")[0]
                    for dataset in (DATASET, QUARANTINE) for ticker in ("MSFT", "AAPL")]
    written = [Path(f).stat().st_mtime_ns for f in silver_files]
    again = dg.materialize([bronze_corporate_actions, silver_corporate_actions], resources=resources)
    assert again.success
    assert len(store.list_files("bronze/source=synthetic/dataset=corporate_actions", ".json",
                                recursive=True)) == 4  # bronze is append-only
    # The same answer again: nothing is rebuilt, neither MSFT's events nor AAPL's lack of them.
    assert [Path(f).stat().st_mtime_ns for f in silver_files] == written
    metadata = next(m.metadata for m in again.asset_materializations_for_node(
        "silver_corporate_actions") if m.asset_key == dg.AssetKey(["silver", DATASET]))
    assert metadata["tickers_unchanged"].value == 2 and metadata["tickers_written"].value == 0
    refreshed = read_silver(store, DATASET, "MSFT").set_index(["ex_date", "kind"])
    assert refreshed["first_seen_at"].equals(first_seen)  # known since the first fetch


def test_a_changed_payload_keeps_first_seen_of_unchanged_events(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    resources = _resources(tmp_path / "lake", ["MSFT"])
    assert dg.materialize([bronze_corporate_actions, silver_corporate_actions],
                          resources=resources).success
    store = LakeStore.local(str(tmp_path / "lake"))
    before = read_silver(store, DATASET, "MSFT").set_index(["ex_date", "kind"])
    original = SyntheticActionsSource.events

    def one_more(self, ticker, start, end):  # the vendor adds a (valid) special dividend
        return [*original(self, ticker, start, end),
                {"symbol": ticker, "date": "2015-03-02", "type": "dividend", "dividend": 1.0,
                 "currency": "USD"}]

    monkeypatch.setattr(SyntheticActionsSource, "events", one_more)
    assert dg.materialize([bronze_corporate_actions, silver_corporate_actions],
                          resources=resources).success
    after = read_silver(store, DATASET, "MSFT").set_index(["ex_date", "kind"])
    new_key = (pd.Timestamp("2015-03-02"), "cash_dividend")
    assert len(after) == len(before) + (new_key not in before.index)
    assert after.loc[new_key, "first_seen_at"] > before["first_seen_at"].max()
    assert after.drop(index=new_key)["first_seen_at"].equals(before.drop(index=new_key, errors="ignore")["first_seen_at"])
    assert (after["fetched_at"] > before["fetched_at"].max()).all()


def test_a_ticker_whose_events_were_all_refused_is_rebuilt_when_the_vendor_drops_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No silver row and no event in the payload is "unchanged" only if the quarantine is empty
    too: otherwise its refused rows would outlive the vendor's correction."""
    resources = _resources(tmp_path / "lake", ["AAPL"])  # AAPL: no synthetic events
    original = SyntheticActionsSource.events

    def one_bad(self, ticker, start, end):  # a dividend without an amount: refused
        return [*original(self, ticker, start, end),
                {"symbol": ticker, "date": "2015-03-02", "type": "dividend", "currency": "USD"}]

    monkeypatch.setattr(SyntheticActionsSource, "events", one_bad)
    assert dg.materialize([bronze_corporate_actions, silver_corporate_actions],
                          resources=resources).success
    store = LakeStore.local(str(tmp_path / "lake"))
    assert read_silver(store, DATASET, "AAPL").empty
    assert len(read_silver(store, QUARANTINE, "AAPL")) == 1

    monkeypatch.setattr(SyntheticActionsSource, "events", original)  # the vendor's correction
    assert dg.materialize([bronze_corporate_actions, silver_corporate_actions],
                          resources=resources).success
    assert read_silver(store, DATASET, "AAPL").empty
    assert read_silver(store, QUARANTINE, "AAPL").empty
