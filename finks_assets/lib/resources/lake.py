"""The lake as a Dagster resource, so assets and IO managers never build paths themselves.

``env`` picks the backend: ``local`` files under ``root``, or one S3 bucket per zone
(``s3``: any S3-compatible endpoint, missing buckets created; ``aws``: buckets must exist, and
the writer registers every table and partition in the Glue database ``glue_database``).
The fields are plain, non-secret config; credentials come from the AWS credential chain.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import cache

import dagster as dg

from finks_assets.lib.environ import temporary_environ
from finks_assets.lib.lake.duckdb_httpfs import httpfs_extension_path
from finks_assets.lib.lake.glue import GlueCatalog
from finks_assets.lib.lake.s3 import ensure_buckets, s3_filesystem
from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.lake.writer import LakeWriter
from finks_assets.lib.storage_settings import (
    DEFAULT_BUCKETS,
    DEFAULT_GLUE_DATABASE,
    DEFAULT_GOLD_GLUE_DATABASE,
    DEFAULT_REGION,
    ZONE_BUCKET,
)


class LakeResource(dg.ConfigurableResource):
    """Root of the bronze/silver/audit lake (``$FINKS_DATA_DIR/lake`` locally, buckets on S3)."""

    root: str
    env: str = "local"
    endpoint_url: str | None = None
    region: str = DEFAULT_REGION
    bronze_bucket: str = DEFAULT_BUCKETS["bronze"]
    silver_bucket: str = DEFAULT_BUCKETS["silver"]
    gold_bucket: str = DEFAULT_BUCKETS["gold"]
    glue_database: str = DEFAULT_GLUE_DATABASE  # aws: silver tables, read by dbt's sources
    gold_glue_database: str = DEFAULT_GOLD_GLUE_DATABASE  # aws: the athena target's schema

    @property
    def zone_buckets(self) -> dict[str, str]:
        return {zone: getattr(self, f"{bucket}_bucket") for zone, bucket in ZONE_BUCKET.items()}

    def store(self) -> LakeStore:
        if self.env == "local":
            return LakeStore.local(self.root)
        return _s3_store(self.env, self.endpoint_url, self.region,
                         tuple(sorted(self.zone_buckets.items())))

    def writer(self) -> LakeWriter:
        """The one writer of every lake dataset (atomic writes; Glue registration in aws mode)."""
        aws = self.env == "aws"
        return LakeWriter(self.store(), GlueCatalog(self.glue_database, self.region,
                                                    self.endpoint_url) if aws else None)

    def lake_root_uri(self) -> str:
        """What dbt's ``lake_root`` var is: the local root, or ``s3://<silver bucket>``."""
        return self.store().zone_uri("silver")

    def s3_client(self):
        """A boto3 S3 client for this endpoint (credentials from the AWS credential chain).

        A new session each time: boto3's default session resolves the chain once per process
        and keeps the answer, so keys exported or rotated after the first call would be ignored.
        """
        import boto3

        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.region
        )

    @contextlib.contextmanager
    def dbt_environment(self) -> Iterator[None]:
        """Non-secret facts the ``duckdb_s3`` / ``athena`` dbt targets read with env_var().

        Keys are not exported here: dbt reads ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``
        from the environment it inherits, like every other client of the lake.
        """
        if self.env == "aws":  # the athena target: gold bucket, both Glue databases, region
            with temporary_environ({"FINKS_GOLD_BUCKET": self.gold_bucket,
                                    "FINKS_GLUE_DATABASE": self.glue_database,
                                    "FINKS_GOLD_GLUE_DATABASE": self.gold_glue_database,
                                    "AWS_REGION": self.region}):
                yield
            return
        if self.env != "s3":
            yield
            return
        endpoint = self.endpoint_url or ""
        values = {
            "FINKS_DUCKDB_HTTPFS": str(httpfs_extension_path()),
            "FINKS_S3_ENDPOINT_HOST": endpoint.split("://", 1)[-1].rstrip("/"),
            "FINKS_S3_USE_SSL": "false" if endpoint.startswith("http://") else "true",
            "FINKS_S3_REGION": self.region,
        }
        with temporary_environ(values):
            yield


@cache
def _s3_store(env: str, endpoint_url: str | None, region: str,
              zone_buckets: tuple[tuple[str, str], ...]) -> LakeStore:
    """One store per configuration and process; the bucket check runs once, not per call."""
    create = env == "s3"
    filesystem = s3_filesystem(endpoint_url, region, allow_bucket_creation=create)
    buckets = dict(zone_buckets)
    ensure_buckets(filesystem, buckets.values(), create=create)
    return LakeStore.s3(filesystem, buckets)
