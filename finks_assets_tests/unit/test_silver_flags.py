"""Silver bars carry ``flags``: the WARN checks that named them.

A bar a WARN check names stays in silver (a real market can jump or stop), so it must stay
visible: its ``flags`` column says which checks named it, read off the quality gate's own
outcomes, and gold counts them (test_dbt_flagged_bars_and_vwap.py).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finks_assets.defs.bars_1m.silver import silver_bars_1m
from finks_assets.lib.lake.layout import bronze_partition_dir
from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.lake.writer import LakeWriter
from finks_assets.lib.quality.check_base import CheckOutcome
from finks_assets.lib.quality.flags import FLAG_CHECKS, flags_from_outcomes, with_flags
from finks_assets.lib.quality.silver_gate import run_silver_gate
from finks_assets.lib.quality.thresholds import BarQualityThresholds, QualityResource
from finks_assets.lib.resources.lake import LakeResource
from finks_assets.lib.resources.market_data import MarketDataResource
from finks_assets.lib.sources.synthetic import SyntheticSource
from finks_assets.lib.transforms.bronze_audit import BARS_DATASET
from finks_assets.lib.transforms.silver_bars import clean_bars

DAY = dt.date(2025, 11, 25)
OPEN = pd.Timestamp("2025-11-25 14:30", tz="UTC")
FETCH = pd.Timestamp("2025-11-25 22:00", tz="UTC")


def session(ticker: str = "AAPL", n: int = 60, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 124 * np.exp(np.cumsum(rng.normal(0, 0.0005, n)))
    open_ = np.concatenate(([124.0], close[:-1]))
    return pd.DataFrame({
        "ticker": ticker, "ts": pd.date_range(OPEN, periods=n, freq="1min"), "open": open_,
        "high": np.maximum(open_, close) + 0.02, "low": np.minimum(open_, close) - 0.02,
        "close": close, "volume": rng.integers(100, 5000, n).astype("float64"),
        "source": "synthetic", "ingested_at": FETCH, "trade_date": DAY,
    })


def offenders(*rows: tuple[str, int]) -> CheckOutcome:
    frame = pd.DataFrame({"ticker": [t for t, _ in rows],
                          "ts": [OPEN + pd.Timedelta(minutes=m) for _, m in rows]})
    return CheckOutcome(passed=not rows, failing_rows=len(rows), offenders=frame)


def test_flags_name_the_checks_that_named_each_bar() -> None:
    bars = pd.concat([session("AAPL", 5), session("MSFT", 5)], ignore_index=True)
    outcomes = {
        "outlier_jumps": offenders(("AAPL", 2), ("MSFT", 4)),
        "stale_prices": offenders(("MSFT", 4), ("MSFT", 3)),
        "intraday_gaps": offenders(("AAPL", 0)),  # a per-day check: never a bar flag
    }
    flags = flags_from_outcomes(bars, outcomes)
    assert str(flags.dtype) == "string" and flags.index.equals(bars.index)
    named = {(t, int((ts - OPEN) / pd.Timedelta(minutes=1))): f
             for t, ts, f in zip(bars["ticker"], bars["ts"], flags, strict=True) if not pd.isna(f)}
    assert named == {("AAPL", 2): "outlier_jumps", ("MSFT", 3): "stale_prices",
                     ("MSFT", 4): "outlier_jumps,stale_prices"}
    assert set(FLAG_CHECKS) == {"outlier_jumps", "stale_prices"}


def test_a_day_without_flags_still_writes_a_string_column(tmp_path: Path) -> None:
    bars = with_flags(session(), {"outlier_jumps": offenders(), "stale_prices": offenders()})
    assert bars["flags"].isna().all()
    written = LakeWriter(LakeStore.local(str(tmp_path))).write_partitions(
        "silver", "bars_1m", bars, [DAY.isoformat()])
    flags_type = written.schema.field("flags").type  # typed, not Arrow null: Glue registers it
    assert pa.types.is_string(flags_type) or pa.types.is_large_string(flags_type)


def test_the_gates_outcomes_flag_exactly_the_warn_offenders(tmp_path: Path) -> None:
    """Two 100x bars in a row are not a reverting bad print: they stay, and outlier_jumps (WARN)
    names the first; a frozen feed's zero-volume run is named bar by bar by stale_prices."""
    aapl = session("AAPL")
    aapl.loc[[30, 31], ["open", "high", "low", "close"]] *= 100
    msft = session("MSFT", seed=2)
    msft.loc[10:29, ["open", "high", "low", "close"]] = msft.loc[9, "close"]
    msft.loc[10:29, "volume"] = 0.0
    result = clean_bars(pd.concat([aapl, msft], ignore_index=True), [DAY])
    assert result.quarantine.empty  # nothing here is a bad print

    writer = LakeWriter(LakeStore.local(str(tmp_path)))
    gate = run_silver_gate(result, [DAY], writer.store, writer, BarQualityThresholds())
    bars = with_flags(result.bars, gate.outcomes)
    flagged = bars[bars["flags"].notna()]
    minute = ((flagged["ts"] - OPEN) / pd.Timedelta(minutes=1)).astype(int)
    assert list(zip(flagged["ticker"], minute, flagged["flags"], strict=True)) == [
        ("AAPL", 30, "outlier_jumps"), *(("MSFT", m, "stale_prices") for m in range(10, 30))]
    assert len(flagged) == sum(gate.outcomes[c].failing_rows for c in FLAG_CHECKS)


def test_the_silver_asset_writes_the_flags(tmp_path: Path) -> None:
    """Real Dagster: silver/bars_1m materialized from a bronze fetch with a two-bar 100x print.

    Needs the silver asset to write ``with_flags(result.bars, gate.outcomes)`` (one line after
    ``run_silver_gate`` in finks_assets/defs/bars_1m/silver.py).
    """
    source = SyntheticSource(seed=7)
    fetch = source.fetch_bars_1m(["AAPL", "MSFT"], [DAY])
    raw = pd.concat([fetch.frames[t].assign(_ticker=t) for t in ("AAPL", "MSFT")],
                    ignore_index=True).assign(_fetched_at=FETCH)
    aapl = raw.index[raw["_ticker"] == "AAPL"]
    raw.loc[aapl[[100, 101]], ["open", "high", "low", "close"]] *= 100
    lake = tmp_path / "lake"
    directory = lake / bronze_partition_dir(source.name, BARS_DATASET, DAY)
    directory.mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(raw, preserve_index=False),
                   directory / (FETCH.strftime("%Y%m%dT%H%M%S%fZ") + "_test.parquet"))

    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [silver_bars_1m], partition_key=DAY.isoformat(), instance=instance,
            resources={"market_data": MarketDataResource(source="synthetic"),
                       "lake": LakeResource(root=str(lake)), "quality": QualityResource()})
    assert result.success
    silver = pq.read_table(next((lake / "silver/bars_1m").rglob("*.parquet"))).to_pandas()
    if "flags" not in silver.columns:
        pytest.fail("silver/bars_1m has no flags column: apply the one-line change to "
                    "defs/bars_1m/silver.py (result.bars = with_flags(result.bars, gate.outcomes))")
    flagged = silver[silver["flags"].notna()]
    assert flagged[["ticker", "flags"]].values.tolist() == [["AAPL", "outlier_jumps"]]
    assert flagged["close"].iloc[0] > 1000
