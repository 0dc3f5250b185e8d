"""The Glue Data Catalog for ``FINKS_ENV=aws``: silver partitions registered for Athena.

Every silver partition the IO manager writes is added to a Glue table (Parquet, partitioned
by ``trade_date``) with an explicit ``BatchCreatePartition`` call, so Athena -- and dbt-athena
building gold -- sees a day as soon as it is written, without ``MSCK REPAIR`` crawls.
Explicit partitions rather than partition projection: they can be listed and checked (and
tested against an emulator), and the number of partitions per table stays small (one per
trading day). The table's columns come from the Parquet schema actually written.

The Glue *database* is the infrastructure's (deploy/infra creates it, as it creates the
buckets); the pipeline creates tables in it and adds partitions, nothing more. In ``local``
and ``s3`` mode the resource is disabled and every call is a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
import pyarrow as pa

from finks_assets.lake.layout import dataset_partition_dir, trade_date_key
from finks_assets.storage_settings import DEFAULT_REGION

PARQUET_SERDE = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    },
}
BATCH_LIMIT = 100  # BatchCreatePartition accepts at most 100 partitions per call


class CatalogError(RuntimeError):
    """Glue refused a table or partition for a reason other than "it already exists"."""


# Arrow type predicate -> Hive/Athena type, first match wins. An all-null column (an empty
# holiday frame) types as string.
_HIVE_TYPES = (
    (pa.types.is_string, "string"), (pa.types.is_large_string, "string"),
    (pa.types.is_timestamp, "timestamp"), (pa.types.is_floating, "double"),
    (pa.types.is_integer, "bigint"), (pa.types.is_boolean, "boolean"),
    (pa.types.is_date, "date"), (pa.types.is_null, "string"),
)


def hive_type(arrow_type: pa.DataType) -> str:
    """The Hive/Athena type of an Arrow column as the lake writes it."""
    for matches, name in _HIVE_TYPES:
        if matches(arrow_type):
            return name
    raise CatalogError(f"no Glue type for Arrow type {arrow_type}")


class GlueCatalogResource(dg.ConfigurableResource):
    """Registers lake tables and partitions in Glue (aws mode); disabled elsewhere."""

    enabled: bool = False
    database: str = "finks"
    region: str = DEFAULT_REGION
    endpoint_url: str | None = None  # only for emulators (moto); None = AWS' Glue endpoint
    bucket_by_layer: dict[str, str] = {}

    def client(self):
        """A Glue client on a fresh boto3 session, so the current credential chain is read."""
        import boto3

        return boto3.session.Session().client(
            "glue", region_name=self.region, endpoint_url=self.endpoint_url
        )

    def table_name(self, layer: str, dataset: str) -> str:
        return f"{layer}_{dataset}"

    def location(self, layer: str, dataset: str) -> str:
        return f"s3://{self.bucket_by_layer[layer]}/{layer}/{dataset}/"

    def register_partitions(
        self, layer: str, dataset: str, schema: pa.Schema, partition_keys: Sequence[str]
    ) -> int:
        """Ensure the table exists and holds every partition; returns how many were added."""
        if not self.enabled:
            return 0
        glue = self.client()
        table = self.table_name(layer, dataset)
        self._ensure_table(glue, layer, dataset, schema)
        added = 0
        days = [trade_date_key(k) for k in partition_keys]
        for start in range(0, len(days), BATCH_LIMIT):
            batch = days[start:start + BATCH_LIMIT]
            response = glue.batch_create_partition(
                DatabaseName=self.database, TableName=table,
                PartitionInputList=[self._partition_input(layer, dataset, schema, d) for d in batch],
            )
            errors = [e for e in response.get("Errors", [])
                      if e["ErrorDetail"]["ErrorCode"] != "AlreadyExistsException"]
            if errors:
                raise CatalogError(f"Glue refused partitions of {self.database}.{table}: {errors[:3]}")
            added += len(batch) - len(response.get("Errors", []))
        return added

    def _ensure_table(self, glue, layer: str, dataset: str, schema: pa.Schema) -> None:
        table = self.table_name(layer, dataset)
        try:
            glue.get_table(DatabaseName=self.database, Name=table)
            return
        except glue.exceptions.EntityNotFoundException:
            pass
        try:
            glue.create_table(DatabaseName=self.database, TableInput={
                "Name": table,
                "TableType": "EXTERNAL_TABLE",
                "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE"},
                "PartitionKeys": [{"Name": "trade_date", "Type": "date"}],
                "StorageDescriptor": {
                    **PARQUET_SERDE,
                    "Columns": _columns(schema),
                    "Location": self.location(layer, dataset),
                },
            })
        except glue.exceptions.AlreadyExistsException:
            pass  # a concurrent run created it first
        except glue.exceptions.EntityNotFoundException as exc:
            raise CatalogError(
                f"Glue database {self.database!r} does not exist: the infrastructure code "
                "(deploy/infra) creates it; set FINKS_GLUE_DATABASE to its name"
            ) from exc

    def _partition_input(self, layer: str, dataset: str, schema: pa.Schema, day: str) -> dict:
        return {
            "Values": [day],
            "StorageDescriptor": {
                **PARQUET_SERDE,
                "Columns": _columns(schema),
                "Location": f"s3://{self.bucket_by_layer[layer]}/{dataset_partition_dir(layer, dataset, day)}/",
            },
        }


def _columns(schema: pa.Schema) -> list[dict[str, str]]:
    return [{"Name": f.name, "Type": hive_type(f.type)} for f in schema if f.name != "trade_date"]
