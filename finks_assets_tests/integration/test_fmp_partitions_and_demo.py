"""Ticker partitions follow the universe file; ``FINKS_SOURCE=fmp finks demo`` runs against
FMP_BASE_URL (the loopback FMP here)."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from finks_assets.cli import main as cli
from finks_assets.defs.fmp.reference import tickers_partitions, universe_partitions_sensor
from finks_assets.lib.dbt.project import DBT_PROJECT_DIR
from finks_assets.lib.resources.universe import UniverseSpecResource
from finks_assets_tests.fakes import fmp_server as fake
from finks_assets_tests.fakes.fmp_server import FakeFmpServer

KEY = "demo-key-5150"


def requested(result) -> list[str]:
    if isinstance(result, dg.SkipReason):
        return []
    return [k for r in result.dynamic_partitions_requests for k in r.partition_keys]


def test_adding_a_ticker_to_the_universe_file_adds_its_partition(tmp_path):
    universe = tmp_path / "universe.txt"
    universe.write_text("AAPL\nMSFT  # comment\n")
    with dg.DagsterInstance.ephemeral() as instance:
        def tick():
            context = dg.build_sensor_context(
                instance=instance, resources={"universe_spec": UniverseSpecResource(spec=str(universe))})
            return universe_partitions_sensor(context)

        first = tick()
        assert requested(first) == ["AAPL", "MSFT"]
        instance.add_dynamic_partitions(tickers_partitions.name, requested(first))
        assert isinstance(tick(), dg.SkipReason)
        universe.write_text("AAPL\nMSFT\nBRK.B\n")
        assert requested(tick()) == ["BRK.B"]
        universe.write_text("AAPL\n../etc\n")
        with pytest.raises(ValueError, match="invalid ticker"):
            tick()


@pytest.mark.skipif(not (DBT_PROJECT_DIR / "target" / "manifest.json").exists(),
                    reason="dbt manifest missing: run `make manifest`")
def test_fmp_demo_runs_against_fmp_base_url(tmp_path, monkeypatch, capsys):
    with FakeFmpServer(api_key=KEY) as server:
        server.script("JPM", fake.payment_required(), endpoint="eod")
        for name, value in {
            "FINKS_SOURCE": "fmp", "FMP_API_KEY": KEY, "FMP_BASE_URL": server.base_url,
            "FINKS_DATA_DIR": str(tmp_path / "finks"), "FINKS_UNIVERSE": "AAPL,MSFT,JPM",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("DAGSTER_HOME", raising=False)
        assert cli.main(["demo", "--days", "2"]) == 0
        out = capsys.readouterr().out
    assert "source=fmp" in out and "bronze/fmp_eod: FMP failed for JPM" in out
    assert "Gold summary" in out and KEY not in out
    assert {c.path for c in server.requests} >= {"/stable/historical-price-eod/full", "/stable/profile"}
    with duckdb.connect(str(tmp_path / "finks" / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(distinct ticker) from gold.fct_daily_bars").fetchone() == (2,)
        assert con.execute("select count(*) from gold.dim_tickers").fetchone() == (3,)


@pytest.mark.skipif(not (DBT_PROJECT_DIR / "target" / "manifest.json").exists(),
                    reason="dbt manifest missing: run `make manifest`")
def test_fmp_demo_with_a_wrong_key_exits_non_zero_after_one_request(tmp_path, monkeypatch, capsys):
    with FakeFmpServer(api_key=KEY) as server:
        for name, value in {
            "FINKS_SOURCE": "fmp", "FMP_API_KEY": "not-the-key", "FMP_BASE_URL": server.base_url,
            "FINKS_DATA_DIR": str(tmp_path / "finks"), "FINKS_UNIVERSE": "AAPL,MSFT,JPM",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("DAGSTER_HOME", raising=False)
        assert cli.main(["demo", "--days", "2"]) == 1
        captured = capsys.readouterr()
    # two FMP fetch steps (EOD prices, corporate actions), each stopped by its first 401
    assert 1 <= len(server.requests) <= 2, server.requests
    assert "FAILED" in captured.err and "not-the-key" not in captured.out + captured.err
