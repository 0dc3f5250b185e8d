"""FINKS_ENV=aws, the Glue half: silver partitions registered in the Glue Data Catalog.

Nothing real can run Glue or Athena offline, so these tests use moto's server mode
(``moto.server.ThreadedMotoServer`` on loopback), which emulates the Glue and S3 APIs over real
HTTP: boto3 and pyarrow talk to it exactly as they would to AWS. moto checks API shapes and
stores what it is given; it does not run Athena queries, so Athena reading these tables is
NOT exercised here (see docs/storage.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import dagster as dg
import pyarrow as pa
import pytest

from finks_assets.defs.bars_1m.bronze import bronze_bars_1m
from finks_assets.defs.bars_1m.silver import silver_bars_1m
from finks_assets.lib.alert_messages import RANGE_END_TAG, RANGE_START_TAG
from finks_assets.lib.lake.io_manager import LakeParquetIOManager
from finks_assets.lib.lake.partition_writes import WrittenPartitions
from finks_assets.lib.partitions import SINGLE_RUN, trading_days
from finks_assets.lib.resources.catalog import CatalogError, GlueCatalogResource
from finks_assets.lib.resources.factory import build_resources
from finks_assets.lib.resources.lake import LakeResource
from finks_assets.lib.settings import FinksSettings
from finks_assets_tests.moto_support import moto_server

REGION = "us-east-1"
DATABASE = "finks_test"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_server(REGION) as endpoint:
        yield endpoint


def glue(endpoint: str):
    return boto3.client("glue", region_name=REGION, endpoint_url=endpoint)


@pytest.fixture
def database(moto_endpoint: str) -> Iterator[str]:
    """The Glue database, created as the infrastructure code would (not by the pipeline)."""
    glue(moto_endpoint).create_database(DatabaseInput={"Name": DATABASE})
    yield DATABASE
    glue(moto_endpoint).delete_database(Name=DATABASE)


def catalog(endpoint: str) -> GlueCatalogResource:
    return GlueCatalogResource(enabled=True, database=DATABASE, region=REGION,
                               endpoint_url=endpoint, bucket_by_layer={"silver": "lake-silver"})


SCHEMA = pa.schema([("ticker", pa.string()), ("ts", pa.timestamp("ns", tz="UTC")),
                    ("close", pa.float64()), ("volume", pa.int64())])


def test_partitions_are_registered_once_with_hive_locations(moto_endpoint: str, database: str) -> None:
    resource = catalog(moto_endpoint)
    assert resource.register_partitions("silver", "bars_1m", SCHEMA, ["2025-11-24", "2025-11-25"]) == 2
    assert resource.register_partitions("silver", "bars_1m", SCHEMA, ["2025-11-25", "2025-11-26"]) == 1

    client = glue(moto_endpoint)
    table = client.get_table(DatabaseName=database, Name="silver_bars_1m")["Table"]
    assert table["PartitionKeys"] == [{"Name": "trade_date", "Type": "date"}]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
        ("ticker", "string"), ("ts", "timestamp"), ("close", "double"), ("volume", "bigint")]
    assert table["StorageDescriptor"]["Location"] == "s3://lake-silver/silver/bars_1m/"
    parts = client.get_partitions(DatabaseName=database, TableName="silver_bars_1m")["Partitions"]
    assert sorted((p["Values"][0], p["StorageDescriptor"]["Location"]) for p in parts) == [
        (d, f"s3://lake-silver/silver/bars_1m/trade_date={d}/")
        for d in ("2025-11-24", "2025-11-25", "2025-11-26")
    ]


def test_a_missing_database_is_a_clear_error_and_disabled_is_a_no_op(moto_endpoint: str) -> None:
    with pytest.raises(CatalogError, match="does not exist.*FINKS_GLUE_DATABASE"):
        catalog(moto_endpoint).register_partitions("silver", "bars_1m", SCHEMA, ["2025-11-24"])
    assert GlueCatalogResource(enabled=False).register_partitions(
        "silver", "bars_1m", SCHEMA, ["2025-11-24"]) == 0


def test_aws_mode_silver_run_writes_s3_and_registers_glue(
    moto_endpoint: str, database: str, tmp_path: Path
) -> None:
    """bronze -> silver in aws mode against moto's S3 and Glue (dbt/Athena is not run here)."""
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_endpoint)
    for bucket in ("aws-bronze", "aws-silver", "aws-gold"):
        s3.create_bucket(Bucket=bucket)  # aws mode never creates buckets: infrastructure does
    settings = FinksSettings.from_env({
        "FINKS_ENV": "aws", "AWS_ENDPOINT_URL": moto_endpoint, "AWS_REGION": REGION,
        "FINKS_DATA_DIR": str(tmp_path), "FINKS_UNIVERSE": "AAPL,MSFT",
        "FINKS_BRONZE_BUCKET": "aws-bronze", "FINKS_SILVER_BUCKET": "aws-silver",
        "FINKS_GOLD_BUCKET": "aws-gold", "FINKS_GLUE_DATABASE": database,
    })
    result = dg.materialize(
        [bronze_bars_1m, silver_bars_1m], resources=build_resources(settings),
        partition_key="2025-11-24",
    )
    assert result.success
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="aws-silver")["Contents"]]
    assert "silver/bars_1m/trade_date=2025-11-24/part-0.parquet" in keys
    client = glue(moto_endpoint)
    for table in ("silver_bars_1m", "silver_bars_1m_quarantine"):
        parts = client.get_partitions(DatabaseName=database, TableName=table)["Partitions"]
        assert [p["Values"] for p in parts] == [["2025-11-24"]]
    assert not (tmp_path / "lake").exists()


def test_written_partitions_are_registered_in_glue_and_not_written_again(
    moto_endpoint: str, database: str, tmp_path: Path
) -> None:
    """The IO manager given a WrittenPartitions marker (silver wrote its chunks itself)."""
    written = WrittenPartitions(rows={"2025-11-26": 3, "2025-11-27": 0, "2025-11-28": 2},
                                schema=SCHEMA)

    @dg.asset(key=["silver", "bars_1m"], partitions_def=trading_days, backfill_policy=SINGLE_RUN)
    def already_written() -> WrittenPartitions:
        return written

    io_manager = LakeParquetIOManager(lake=LakeResource(root=str(tmp_path / "lake")),
                                      catalog=catalog(moto_endpoint))
    result = dg.materialize(
        [already_written], resources={"io_manager": io_manager},
        tags={RANGE_START_TAG: "2025-11-26", RANGE_END_TAG: "2025-11-28"},
    )
    assert result.success
    assert not (tmp_path / "lake").exists()  # nothing written by the IO manager
    parts = glue(moto_endpoint).get_partitions(
        DatabaseName=database, TableName="silver_bars_1m")["Partitions"]
    assert sorted(p["Values"][0] for p in parts) == ["2025-11-26", "2025-11-27", "2025-11-28"]
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert (metadata["rows"].value, metadata["partitions_written"].value,
            metadata["empty_partitions"].value, metadata["glue_partitions_added"].value) == (5, 3, 1, 3)

    written.rows.pop("2025-11-28")  # a marker that misses one of the run's partitions
    failed = dg.materialize(
        [already_written], resources={"io_manager": io_manager}, raise_on_error=False,
        tags={RANGE_START_TAG: "2025-11-26", RANGE_END_TAG: "2025-11-28"},
    )
    assert not failed.success
