"""The Glue Data Catalog for ``FINKS_ENV=aws``: lake tables and partitions registered for Athena.

The lake writer calls :meth:`GlueCatalog.register` right after it writes a table's partitions,
so Athena -- and dbt-athena building gold -- sees a partition as soon as it exists, without
``MSCK REPAIR`` crawls. Explicit partitions rather than partition projection: they can be
listed and checked (and tested against an emulator), and stay few (one per trading day, or one
per ticker for the FMP reference tables). Columns come from the Parquet schema actually written.

The Glue *database* is the infrastructure's (deploy/infra creates it, as it creates the
buckets); the pipeline creates tables in it and adds partitions, nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

PARQUET_SERDE = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    },
}
BATCH_LIMIT = 100  # BatchCreatePartition accepts at most 100 partitions per call
PARTITION_TYPES = {"trade_date": "date", "ticker": "string"}

# pyarrow.types predicate -> Hive/Athena type, first match wins. A column of nulls only types as
# string (a write without rows and with such columns is not registered at all: LakeWriter).
_HIVE_TYPES = (
    ("is_string", "string"), ("is_large_string", "string"), ("is_timestamp", "timestamp"),
    ("is_floating", "double"), ("is_integer", "bigint"), ("is_boolean", "boolean"),
    ("is_date", "date"), ("is_null", "string"),
)


class CatalogError(RuntimeError):
    """Glue refused a table or partition for a reason other than "it already exists"."""


def hive_type(arrow_type: pa.DataType) -> str:
    """The Hive/Athena type of an Arrow column as the lake writes it."""
    import pyarrow as pa
    for predicate, name in _HIVE_TYPES:
        if getattr(pa.types, predicate)(arrow_type):
            return name
    raise CatalogError(f"no Glue type for Arrow type {arrow_type}")


def _storage(schema: pa.Schema, location: str) -> dict:
    columns = [{"Name": f.name, "Type": hive_type(f.type)} for f in schema]
    return {**PARQUET_SERDE, "Columns": columns, "Location": location}


@dataclass(frozen=True)
class GlueCatalog:
    """One Glue database; clients come from a fresh boto3 session, so the current credential
    chain is read (keys rotated after the first call are honoured)."""

    database: str
    region: str
    endpoint_url: str | None = None  # only for emulators (moto); None = AWS' Glue endpoint

    def client(self):
        import boto3

        return boto3.session.Session().client(
            "glue", region_name=self.region, endpoint_url=self.endpoint_url)

    def register(self, table: str, location: str, schema: pa.Schema, partition_key: str,
                 partitions: Mapping[str, str]) -> int:
        """Ensure ``table`` exists and holds every partition (value -> location); returns how
        many were added (the others existed already)."""
        glue = self.client()
        self._ensure_table(glue, table, location, schema, partition_key)
        values = list(partitions)
        added = 0
        for start in range(0, len(values), BATCH_LIMIT):
            batch = values[start:start + BATCH_LIMIT]
            response = glue.batch_create_partition(
                DatabaseName=self.database, TableName=table,
                PartitionInputList=[{"Values": [v], "StorageDescriptor": _storage(schema, partitions[v])}
                                    for v in batch])
            errors = response.get("Errors", [])
            refused = [e for e in errors if e["ErrorDetail"]["ErrorCode"] != "AlreadyExistsException"]
            if refused:
                raise CatalogError(f"Glue refused partitions of {self.database}.{table}: {refused[:3]}")
            added += len(batch) - len(errors)
        return added

    def _ensure_table(self, glue, table: str, location: str, schema: pa.Schema, key: str) -> None:
        try:
            glue.get_table(DatabaseName=self.database, Name=table)
            return
        except glue.exceptions.EntityNotFoundException:
            pass
        try:
            glue.create_table(DatabaseName=self.database, TableInput={
                "Name": table, "TableType": "EXTERNAL_TABLE",
                "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE"},
                "PartitionKeys": [{"Name": key, "Type": PARTITION_TYPES[key]}],
                "StorageDescriptor": _storage(schema, location),
            })
        except glue.exceptions.AlreadyExistsException:
            pass  # a concurrent run created it first
        except glue.exceptions.EntityNotFoundException as exc:
            raise CatalogError(
                f"Glue database {self.database!r} does not exist: the infrastructure code "
                "(deploy/infra) creates it; set FINKS_GLUE_DATABASE to its name"
            ) from exc
