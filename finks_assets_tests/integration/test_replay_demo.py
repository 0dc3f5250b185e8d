"""``finks replay-demo`` end to end: one session x 50 tickers replayed, consumed,
compacted by the Dagster job and built into gold by dbt; the command itself asserts that live
VWAP equals ``gold.fct_daily_bars.vwap`` within 1e-9 for every ticker (exit code 0)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from finks_assets.cli.main import main
from finks_assets.lib.dbt.project import DBT_PROJECT_DIR
from finks_assets.lib.stream import live_state

TICKERS = [f"S{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(50)]

pytestmark = pytest.mark.skipif(
    not (DBT_PROJECT_DIR / "target" / "manifest.json").exists(),
    reason="dbt manifest missing: run `make manifest` (make test does it first)",
)


def test_replay_demo_live_vwap_equals_gold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "finks"
    monkeypatch.setenv("FINKS_DATA_DIR", str(data))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert main(["replay-demo", "--date", "2025-11-25", "--speed", "inf",
                 "--tickers", ",".join(TICKERS)]) == 0
    out = capsys.readouterr().out
    assert "780 objects, 19500 bars" in out and "50 tickers, max |diff|" in out
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        gold = dict(con.execute("select ticker, vwap from gold.fct_daily_bars "
                                "where trade_date = date '2025-11-25'").fetchall())
    assert sorted(gold) == TICKERS
    for ticker in TICKERS:
        live = live_state.read_live(live_state.live_db_path(data), ticker)
        assert live["bars"] == 390 and abs(live["vwap"] - gold[ticker]) <= 1e-9
