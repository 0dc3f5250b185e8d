"""Object-store settings for ``FINKS_ENV=s3`` and ``FINKS_ENV=aws`` (read by settings.py).

One bucket per lake zone, as the seed plans have it: bronze payloads, the ingestion audit and
the landing prefix live in the bronze bucket, silver in the silver bucket, gold exports in the
gold bucket. Object keys are the same relative paths as on local disk
(``silver/bars_1m/trade_date=YYYY-MM-DD/part-0.parquet``), so one layout serves every mode.

The secret key is a :class:`pydantic.SecretStr` and both key fields are ``repr=False``: printing
the settings (a log line, a traceback's locals) shows ``**********``, never the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from pydantic import SecretStr

ObjectStoreEnv = Literal["s3", "aws"]
DEFAULT_BUCKETS = {"bronze": "finks-bronze", "silver": "finks-silver", "gold": "finks-gold"}
# Lake zones (first path segment) -> the bucket setting that holds them. A new zone must be
# added here, or LakeStore refuses its paths in s3/aws mode rather than guessing a bucket.
ZONE_BUCKET = {"bronze": "bronze", "audit": "bronze", "landing": "bronze", "silver": "silver",
               "reports": "gold", "gold": "gold"}
DEFAULT_REGION = "us-east-1"
DEFAULT_GLUE_DATABASE = "finks"
# aws mode: dbt-athena builds gold in its own Glue database, by default "<glue database>_gold",
# so each stack (finks_staging, finks_prod) gets its own gold database its IRSA roles are granted.
GOLD_GLUE_DATABASE_SUFFIX = "_gold"
DEFAULT_GOLD_GLUE_DATABASE = DEFAULT_GLUE_DATABASE + GOLD_GLUE_DATABASE_SUFFIX


@dataclass(frozen=True)
class ObjectStoreSettings:
    env: ObjectStoreEnv
    endpoint_url: str | None  # None = AWS' own endpoints (aws mode)
    region: str = DEFAULT_REGION
    bronze_bucket: str = DEFAULT_BUCKETS["bronze"]
    silver_bucket: str = DEFAULT_BUCKETS["silver"]
    gold_bucket: str = DEFAULT_BUCKETS["gold"]
    glue_database: str = DEFAULT_GLUE_DATABASE  # aws mode: where silver tables are registered
    gold_glue_database: str = DEFAULT_GOLD_GLUE_DATABASE  # aws mode: where dbt-athena builds gold
    access_key_id: SecretStr | None = field(default=None, repr=False)
    secret_access_key: SecretStr | None = field(default=None, repr=False)

    @property
    def create_missing_buckets(self) -> bool:
        """A fresh MinIO/SeaweedFS starts empty; on AWS buckets belong to the infrastructure code."""
        return self.env == "s3"

    @property
    def scheme(self) -> str:
        return urlsplit(self.endpoint_url).scheme if self.endpoint_url else "https"

    @property
    def endpoint_host(self) -> str | None:
        """``host:port`` of the endpoint, the form pyarrow's endpoint_override and DuckDB take."""
        return urlsplit(self.endpoint_url).netloc if self.endpoint_url else None

    def bucket_for_zone(self, zone: str) -> str:
        if zone not in ZONE_BUCKET:
            raise ValueError(f"no bucket for lake zone {zone!r}")
        return getattr(self, f"{ZONE_BUCKET[zone]}_bucket")

    @property
    def zone_buckets(self) -> dict[str, str]:
        return {zone: self.bucket_for_zone(zone) for zone in ZONE_BUCKET}

    @property
    def buckets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.zone_buckets.values()))
