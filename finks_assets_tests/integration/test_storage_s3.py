"""FINKS_ENV=s3 end to end against a real S3 server (SeaweedFS, started per module).

The same job runs once locally and once in s3 mode over the same window and tickers; gold
must be identical, bronze/silver must be objects in the zone buckets under the documented
hive layout (and nothing in the local lake), and re-materializing must leave one copy of
each row. Gold in s3 mode is built by dbt-duckdb reading silver over httpfs (installed from
the duckdb-extension-httpfs wheel, offline).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from finks_assets.cli.main import run_range
from finks_assets.lib.dbt.project import DBT_PROJECT_DIR
from finks_assets.lib.lake.duckdb_httpfs import connect_lake
from finks_assets.lib.lake.s3 import MissingBucketError
from finks_assets.lib.resources.factory import build_resources
from finks_assets.lib.settings import FinksSettings
from finks_assets_tests.integration.test_pipeline_end_to_end import gold
from finks_assets_tests.support.seaweedfs import S3Server

FIRST, LAST = "2025-11-24", "2025-11-25"
TICKERS = ["AAPL", "MSFT", "SPY"]
GOLD_QUERIES = {  # fixed SQL, no values interpolated
    "fct_daily_bars": "select * from gold.fct_daily_bars order by ticker, trade_date",
    "fct_daily_features": "select * from gold.fct_daily_features order by ticker, trade_date",
    "daily_portfolio_summary": "select * from gold.daily_portfolio_summary order by 1, 2",
}

pytestmark = pytest.mark.skipif(
    not (DBT_PROJECT_DIR / "target" / "manifest.json").exists(),
    reason="dbt manifest missing: run `make manifest` (make test does it first)",
)


def s3_settings(server: S3Server, data_dir: Path, **extra: str) -> FinksSettings:
    return FinksSettings.from_env({
        "FINKS_ENV": "s3", "FINKS_DATA_DIR": str(data_dir), "FINKS_UNIVERSE": ",".join(TICKERS),
        **server.environ(), **extra,
    })


def gold_tables(settings: FinksSettings) -> dict[str, pd.DataFrame]:
    return {table: gold(settings, sql) for table, sql in GOLD_QUERIES.items()}


def keys(server: S3Server, bucket: str) -> list[str]:
    pages = server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


@pytest.fixture(scope="module")
def built(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory):
    """The window built locally and in s3 mode (fresh buckets: the pipeline creates them)."""
    local = FinksSettings.from_env({
        "FINKS_DATA_DIR": str(tmp_path_factory.mktemp("local") / "finks"),
        "FINKS_UNIVERSE": ",".join(TICKERS),
    })
    assert run_range(local, FIRST, LAST, TICKERS).success
    s3 = s3_settings(s3_server, tmp_path_factory.mktemp("s3") / "finks")
    assert run_range(s3, FIRST, LAST, TICKERS).success
    return local, s3


def test_s3_mode_builds_the_same_gold_rows_as_local_mode(built) -> None:
    local, s3 = built
    local_gold, s3_gold = gold_tables(local), gold_tables(s3)
    assert len(local_gold["fct_daily_bars"]) == len(TICKERS) * 2
    for table in GOLD_QUERIES:
        pd.testing.assert_frame_equal(local_gold[table], s3_gold[table], obj=table)


def test_objects_follow_the_documented_layout_in_the_zone_buckets(built, s3_server: S3Server) -> None:
    _, s3 = built
    silver = keys(s3_server, "finks-silver")
    bronze = keys(s3_server, "finks-bronze")
    for table in ("bars_1m", "bars_1m_quarantine"):
        for day in (FIRST, LAST):
            assert f"silver/{table}/trade_date={day}/part-0.parquet" in silver
    for day in (FIRST, LAST):
        prefix = f"bronze/source=synthetic/dataset=bars_1m/trade_date={day}/"
        assert [k for k in bronze if k.startswith(prefix) and k.endswith(".parquet")]
        assert [k for k in bronze if k.startswith(f"audit/ingestion/source=synthetic/trade_date={day}/")]
    assert all(k.startswith(("bronze/", "audit/")) for k in bronze)
    assert all(k.startswith("silver/") for k in silver)
    reports = keys(s3_server, "finks-gold")
    assert f"reports/silver/bars_1m/trade_date={FIRST}/report.html" in reports
    markers = [k for k in bronze + silver + reports if k.endswith("/")]
    assert markers == [], "no empty directory-marker objects on S3"
    assert not s3.lake_root.exists(), "s3 mode must not write the local lake"


def test_rematerializing_leaves_exactly_one_copy_of_each_row(built, s3_server: S3Server) -> None:
    _, s3 = built
    before = gold_tables(s3)
    assert run_range(s3, FIRST, LAST, TICKERS).success
    silver = [k for k in keys(s3_server, "finks-silver") if k.startswith("silver/bars_1m/")]
    assert silver == [f"silver/bars_1m/trade_date={d}/part-0.parquet" for d in (FIRST, LAST)]
    with connect_lake(s3.object_store) as con:  # DuckDB over httpfs, as dbt reads it
        rows, distinct = con.execute(
            "select count(*), count(distinct (ticker, ts)) from read_parquet("
            "'s3://finks-silver/silver/bars_1m/trade_date=*/[!.]*.parquet', hive_partitioning = true)"
        ).fetchone()
    assert rows == distinct > 0
    after = gold_tables(s3)
    for table in GOLD_QUERIES:
        pd.testing.assert_frame_equal(before[table], after[table], obj=table)


def test_aws_mode_never_creates_a_bucket_and_says_so(s3_server: S3Server, tmp_path: Path) -> None:
    settings = FinksSettings.from_env({
        "FINKS_ENV": "aws", "FINKS_DATA_DIR": str(tmp_path), **s3_server.environ(),
        "FINKS_SILVER_BUCKET": "finks-silver-never-created",
    })
    lake = build_resources(settings)["lake"]
    with pytest.raises(MissingBucketError, match="finks-silver-never-created"):
        lake.store()
    assert "finks-silver-never-created" not in {
        b["Name"] for b in s3_server.client().list_buckets()["Buckets"]
    }
