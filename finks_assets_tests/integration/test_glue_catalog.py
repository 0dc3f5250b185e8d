"""FINKS_ENV=aws, the Glue half: every lake table the writer writes is registered in Glue, and the
dbt-athena sources point at those tables.

Nothing real can run Glue or Athena offline, so these tests use moto's server mode
(``moto.server.ThreadedMotoServer`` on loopback), which emulates the Glue and S3 APIs over real
HTTP: boto3 and pyarrow talk to it exactly as they would to AWS. moto checks API shapes and
stores what it is given; it does NOT run Athena queries, so Athena reading these tables is not
exercised here: the dbt side is checked by compiling the athena target and reading which Glue
tables the compiled SQL selects from (see docs/storage.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import dagster as dg
import pandas as pd
import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from finks_assets.cli.main import RANGE_END_TAG, RANGE_START_TAG
from finks_assets.definitions import build_definitions
from finks_assets.defs.bars_1m.bronze import bronze_bars_1m
from finks_assets.defs.bars_1m.silver import silver_bars_1m
from finks_assets.defs.fmp.jobs import FMP_EOD_JOB, FMP_REFERENCE_JOB
from finks_assets.defs.fmp.reference import REFERENCE_DATASETS, fmp_reference_assets
from finks_assets.lib.dbt.project import DBT_PROJECT_DIR
from finks_assets.lib.lake.glue import CatalogError, GlueCatalog
from finks_assets.lib.resources.factory import build_resources
from finks_assets.lib.settings import FinksSettings
from finks_assets_tests.fakes.fmp_server import FakeFmpServer
from finks_assets_tests.moto_support import moto_server

REGION = "us-east-1"
DATABASE = "finks_test"
BUCKETS = {"FINKS_BRONZE_BUCKET": "aws-bronze", "FINKS_SILVER_BUCKET": "aws-silver",
           "FINKS_GOLD_BUCKET": "aws-gold"}
FMP_KEY = "moto-fmp-key-31"
SCHEMA = pa.schema([("ticker", pa.string()), ("ts", pa.timestamp("ns", tz="UTC")),
                    ("close", pa.float64()), ("volume", pa.int64())])


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_server(REGION) as endpoint:
        s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint)
        for bucket in BUCKETS.values():
            s3.create_bucket(Bucket=bucket)  # aws mode never creates buckets: infrastructure does
        yield endpoint


def glue(endpoint: str):
    return boto3.client("glue", region_name=REGION, endpoint_url=endpoint)


@pytest.fixture
def database(moto_endpoint: str) -> Iterator[str]:
    """The Glue database, created as the infrastructure code would (not by the pipeline)."""
    glue(moto_endpoint).create_database(DatabaseInput={"Name": DATABASE})
    yield DATABASE
    client = glue(moto_endpoint)
    for table in client.get_tables(DatabaseName=DATABASE)["TableList"]:
        client.delete_table(DatabaseName=DATABASE, Name=table["Name"])
    client.delete_database(Name=DATABASE)


def aws_settings(endpoint: str, data_dir: Path, **extra: str) -> FinksSettings:
    return FinksSettings.from_env({
        "FINKS_ENV": "aws", "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": REGION,
        "FINKS_DATA_DIR": str(data_dir), "FINKS_UNIVERSE": "AAPL,MSFT",
        "FINKS_GLUE_DATABASE": DATABASE, **BUCKETS, **extra,
    })


def partitions(endpoint: str, table: str, database: str = DATABASE) -> list[tuple[str, str]]:
    parts = glue(endpoint).get_partitions(DatabaseName=database, TableName=table)["Partitions"]
    return sorted((p["Values"][0], p["StorageDescriptor"]["Location"]) for p in parts)


def test_partitions_are_registered_once_with_hive_locations(moto_endpoint: str, database: str) -> None:
    catalog = GlueCatalog(database, REGION, moto_endpoint)
    location = "s3://lake-silver/silver/bars_1m/"

    def register(*days: str) -> int:
        return catalog.register("silver_bars_1m", location, SCHEMA, "trade_date",
                                {d: f"{location}trade_date={d}/" for d in days})

    assert register("2025-11-24", "2025-11-25") == 2
    assert register("2025-11-25", "2025-11-26") == 1
    table = glue(moto_endpoint).get_table(DatabaseName=database, Name="silver_bars_1m")["Table"]
    assert table["PartitionKeys"] == [{"Name": "trade_date", "Type": "date"}]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
        ("ticker", "string"), ("ts", "timestamp"), ("close", "double"), ("volume", "bigint")]
    assert table["StorageDescriptor"]["Location"] == location
    assert partitions(moto_endpoint, "silver_bars_1m") == [
        (d, f"{location}trade_date={d}/") for d in ("2025-11-24", "2025-11-25", "2025-11-26")]


def test_a_missing_database_is_a_clear_error(moto_endpoint: str) -> None:
    with pytest.raises(CatalogError, match="does not exist.*FINKS_GLUE_DATABASE"):
        GlueCatalog(DATABASE, REGION, moto_endpoint).register(
            "silver_bars_1m", "s3://b/silver/bars_1m/", SCHEMA, "trade_date", {"2025-11-24": "s3://x/"})


def test_aws_mode_silver_run_writes_s3_and_registers_glue(
    moto_endpoint: str, database: str, tmp_path: Path
) -> None:
    """bronze -> silver 1-minute bars in aws mode against moto's S3 and Glue."""
    result = dg.materialize(
        [bronze_bars_1m, silver_bars_1m], partition_key="2025-11-24",
        resources=build_resources(aws_settings(moto_endpoint, tmp_path)),
    )
    assert result.success
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_endpoint)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="aws-silver")["Contents"]]
    assert "silver/bars_1m/trade_date=2025-11-24/part-0.parquet" in keys
    for table in ("silver_bars_1m", "silver_bars_1m_quarantine"):
        assert [v for v, _ in partitions(moto_endpoint, table)] == ["2025-11-24"]
    assert not (tmp_path / "lake").exists()


# -- FMP in aws mode: every silver table in Glue, and dbt-athena reading exactly those --------

FIRST, LAST = "2025-11-24", "2025-11-28"  # Thanksgiving (closed) inside: not a partition
WEEK = [d.date().isoformat() for d in pd.bdate_range(FIRST, LAST) if d.day != 27]
TICKERS = ["AAPL", "MSFT"]


FMP_DATABASE = "finks_fmp_test"


@pytest.fixture(scope="module")
def fmp_in_aws(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> FinksSettings:
    """The FMP EOD job over a week, then the reference assets for two tickers, in aws mode,
    into their own Glue database (created here as the infrastructure would)."""
    glue(moto_endpoint).create_database(DatabaseInput={"Name": FMP_DATABASE})
    with (pytest.MonkeyPatch.context() as patch, FakeFmpServer(api_key=FMP_KEY) as server,
          dg.DagsterInstance.ephemeral() as instance):
        patch.setenv("FMP_API_KEY", FMP_KEY)  # the resource reads dg.EnvVar("FMP_API_KEY")
        settings = aws_settings(
            moto_endpoint, tmp_path_factory.mktemp("fmp_aws"), FINKS_SOURCE="fmp",
            FMP_API_KEY=FMP_KEY, FMP_BASE_URL=server.base_url, FINKS_GLUE_DATABASE=FMP_DATABASE)
        defs = build_definitions(settings)
        eod = defs.resolve_job_def(FMP_EOD_JOB).execute_in_process(
            instance=instance, tags={RANGE_START_TAG: FIRST, RANGE_END_TAG: LAST})
        assert eod.success
        instance.add_dynamic_partitions("tickers", TICKERS)
        reference = defs.resolve_job_def(FMP_REFERENCE_JOB).execute_in_process(
            instance=instance, tags={RANGE_START_TAG: TICKERS[0], RANGE_END_TAG: TICKERS[-1]},
            asset_selection=[a.key for a in fmp_reference_assets])  # gold needs a real Athena
        assert reference.success
    return settings


def test_every_fmp_silver_table_is_registered_with_its_partitions(
    moto_endpoint: str, fmp_in_aws: FinksSettings
) -> None:
    expected = {"silver_fmp_bars_1d": ("trade_date", "date", WEEK)} | {
        f"silver_fmp_{d}": ("ticker", "string", TICKERS) for d in REFERENCE_DATASETS}
    tables = {t["Name"]: t for t in glue(moto_endpoint).get_tables(DatabaseName=FMP_DATABASE)["TableList"]}
    assert set(expected) <= set(tables)
    for name, (key, key_type, values) in expected.items():
        dataset = name.removeprefix("silver_")
        assert tables[name]["PartitionKeys"] == [{"Name": key, "Type": key_type}], name
        assert tables[name]["StorageDescriptor"]["Location"] == f"s3://aws-silver/silver/{dataset}/"
        assert key not in {c["Name"] for c in tables[name]["StorageDescriptor"]["Columns"]}
        assert partitions(moto_endpoint, name, FMP_DATABASE) == [
            (v, f"s3://aws-silver/silver/{dataset}/{key}={v}/") for v in values], name
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_endpoint)
    bronze = [o["Key"] for o in s3.list_objects_v2(Bucket="aws-bronze", Prefix="bronze/source=fmp/")["Contents"]]
    assert len([k for k in bronze if k.endswith(".json")]) == len(TICKERS) * (1 + len(REFERENCE_DATASETS))


def test_athena_compiled_fmp_staging_reads_the_registered_glue_tables(
    moto_endpoint: str, fmp_in_aws: FinksSettings, tmp_path: Path
) -> None:
    """``dbt compile --target athena`` (no connection, so nothing runs on Athena) with the
    environment the lake resource exports in aws mode; every model selecting from an FMP source
    must select from the Glue table the writer registered."""
    target = tmp_path / "athena_target"
    dbt = Path(sys.executable).parent / "dbt"
    with build_resources(fmp_in_aws)["lake"].dbt_environment():
        assert os.environ["FINKS_GLUE_DATABASE"] == FMP_DATABASE
        subprocess.run(
            [str(dbt), "compile", "--quiet", "--profiles-dir", ".", "--target", "athena",
             "--target-path", str(target), "--log-path", str(target), "--no-populate-cache",
             "--select", "source:silver_fmp+1",
             "--vars", json.dumps({"start_date": FIRST, "end_date": LAST})],
            cwd=DBT_PROJECT_DIR, check=True, timeout=300, stdout=subprocess.DEVNULL,
            env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        )
    manifest = json.loads((target / "manifest.json").read_text())
    registered = {t["Name"] for t in glue(moto_endpoint).get_tables(DatabaseName=FMP_DATABASE)["TableList"]
                  if partitions(moto_endpoint, t["Name"], FMP_DATABASE)}
    fmp_sources = {k for k, s in manifest["sources"].items() if s["source_name"] == "silver_fmp"}
    models = {n["name"]: n for n in manifest["nodes"].values()
              if n["resource_type"] == "model" and fmp_sources & set(n["depends_on"]["nodes"])}
    assert len(models) == len(fmp_sources) == 1 + len(REFERENCE_DATASETS)
    for name, node in models.items():
        tables = {(t.catalog, t.db, t.name)
                  for t in sqlglot.parse_one(node["compiled_code"], read="athena").find_all(exp.Table)
                  if t.db}
        assert len(tables) == 1, (name, tables)
        catalog, db, table = tables.pop()
        assert (catalog, db) == ("awsdatacatalog", FMP_DATABASE), name
        assert table in registered, f"{name} reads {db}.{table}, not a registered Glue table"
