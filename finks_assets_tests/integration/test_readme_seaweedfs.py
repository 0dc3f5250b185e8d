"""The README's SeaweedFS steps, followed as written, give the same silver and gold as local
mode.

The ``s3_server`` fixture starts SeaweedFS by running the README block itself
(:mod:`finks_assets_tests.support.seaweedfs`: only the data dir, the binary's path and the
ports are swapped). This module then configures Finks exactly from the variables the README
exports -- ``FINKS_ENV=s3`` included -- runs a small window through the pipeline, and compares
with the same window built locally. With the README's old command (no volume flags) the s3
run fails once a third bucket needs volumes: "No writable volumes and no free volumes left".
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from finks_assets.cli.main import run_range
from finks_assets.lib.dbt.project import DBT_PROJECT_DIR
from finks_assets.lib.lake.duckdb_httpfs import connect_lake
from finks_assets.lib.settings import FinksSettings
from finks_assets_tests.integration.test_pipeline_end_to_end import gold
from finks_assets_tests.support.seaweedfs import (
    DOCUMENTED_BINARY,
    DOCUMENTED_DIR,
    DOCUMENTED_PORTS,
    S3Server,
    readme_block,
    readme_steps,
)

DAY = "2025-11-28"  # the half day after Thanksgiving
TICKERS = ["AAPL", "SPY"]
GOLD = {
    "fct_daily_bars": "select * from gold.fct_daily_bars order by ticker, trade_date",
    "daily_portfolio_summary": "select * from gold.daily_portfolio_summary order by 1, 2",
}


def test_the_fixture_runs_every_line_of_the_readme_block_but_make_demo() -> None:
    """Cut with nothing swapped, the steps put back together are the README block."""
    block = readme_block()
    steps = readme_steps(block, DOCUMENTED_DIR, DOCUMENTED_BINARY)
    rebuilt = "\n".join([steps.setup.rstrip("\n"), f"{steps.server} &", steps.wait,
                         *[line for line in block.replace("\\\n", " ").splitlines()
                           if line.startswith("export ")], *steps.rest])
    assert rebuilt.split() == block.replace("\\\n", " ").split()
    assert steps.environ["FINKS_ENV"] == "s3"
    assert steps.environ["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{DOCUMENTED_PORTS['s3']}"


def test_only_the_data_dir_binary_and_ports_are_swapped(tmp_path: Path) -> None:
    ports = {"s3": 41001, "master": 41002, "volume": 41003, "filer": 41004}
    steps = readme_steps(readme_block(), str(tmp_path / "w"), "/opt/bin/weed", ports)
    documented = readme_steps(readme_block(), DOCUMENTED_DIR, DOCUMENTED_BINARY)
    swapped = steps.server
    for name, port in ports.items():
        swapped = swapped.replace(f"-{name}.port={port}",
                                  f"-{name}.port={DOCUMENTED_PORTS[name]}")
    swapped = swapped.replace(str(tmp_path / "w"), DOCUMENTED_DIR)
    assert swapped.replace("/opt/bin/weed", DOCUMENTED_BINARY) == documented.server
    assert steps.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:41001"
    assert "127.0.0.1:41001" in steps.wait
    assert {k: v for k, v in steps.environ.items() if k != "AWS_ENDPOINT_URL"} == {
        k: v for k, v in documented.environ.items() if k != "AWS_ENDPOINT_URL"}


@pytest.mark.skipif(not (DBT_PROJECT_DIR / "target" / "manifest.json").exists(),
                    reason="dbt manifest missing: run `make manifest` (make test does it first)")
def test_readme_steps_give_the_same_silver_and_gold_as_local_mode(
    s3_server: S3Server, tmp_path: Path
) -> None:
    universe = {"FINKS_UNIVERSE": ",".join(TICKERS)}
    local = FinksSettings.from_env({"FINKS_DATA_DIR": str(tmp_path / "local"), **universe})
    # Configured from what the README exports, nothing else (FINKS_ENV=s3 comes from there).
    s3 = FinksSettings.from_env(
        {**s3_server.readme_environ, "FINKS_DATA_DIR": str(tmp_path / "s3"), **universe})
    assert s3.env == "s3"
    assert run_range(local, DAY, DAY, TICKERS).success
    result = run_range(s3, DAY, DAY, TICKERS)
    assert result.success, [e.message for e in result.all_events if e.is_step_failure]

    for table, sql in GOLD.items():
        pd.testing.assert_frame_equal(gold(local, sql), gold(s3, sql), obj=table)
    assert len(gold(s3, GOLD["fct_daily_bars"])) == len(TICKERS)
    query = ("select ticker, ts, open, high, low, close, volume from read_parquet(?, "
             "hive_partitioning = true) order by ticker, ts")
    with connect_lake(None) as con:
        local_silver = con.execute(
            query, [f"{local.lake_root}/silver/bars_1m/trade_date=*/*.parquet"]).df()
    with connect_lake(s3.object_store) as con:  # DuckDB over httpfs, as dbt reads it
        s3_silver = con.execute(query, [
            f"s3://{s3.object_store.silver_bucket}/silver/bars_1m/trade_date=*/[!.]*.parquet"]).df()
    assert len(local_silver) == len(TICKERS) * 210  # the 13:00 half day
    pd.testing.assert_frame_equal(local_silver, s3_silver)
