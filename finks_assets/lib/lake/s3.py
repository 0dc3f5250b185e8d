"""S3 plumbing for the lake: one pyarrow S3 filesystem per endpoint, and the bucket policy.

Credentials are deliberately *not* passed here: pyarrow (like boto3, DuckDB's secret and
dbt) takes them from the standard AWS credential chain (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY``, ``~/.aws``, or the pod's IAM role on EKS), so they never enter
Dagster resource config, which the UI displays.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import pyarrow.fs as pafs



class MissingBucketError(RuntimeError):
    """An ``aws``-mode bucket does not exist; creating buckets is the infrastructure's job."""


@cache
def s3_filesystem(endpoint_url: str | None, region: str, allow_bucket_creation: bool) -> pafs.S3FileSystem:
    """A (process-wide, cached) S3 filesystem; ``endpoint_url`` None means AWS itself."""
    import pyarrow.fs as pafs
    parts = urlsplit(endpoint_url) if endpoint_url else None
    return pafs.S3FileSystem(
        region=region,
        endpoint_override=parts.netloc if parts else None,
        scheme=parts.scheme if parts else "https",
        allow_bucket_creation=allow_bucket_creation,
        connect_timeout=5,
        request_timeout=30,
    )


def ensure_buckets(filesystem: pafs.FileSystem, buckets: Iterable[str], create: bool) -> None:
    """Create missing buckets (``create``, the s3 mode) or fail clearly naming them (aws mode)."""
    import pyarrow.fs as pafs
    missing = [b for b in dict.fromkeys(buckets)
               if filesystem.get_file_info(b).type == pafs.FileType.NotFound]
    if not missing:
        return
    if not create:
        raise MissingBucketError(
            f"bucket(s) {', '.join(missing)} do not exist. In FINKS_ENV=aws the pipeline never "
            "creates buckets: create them with the infrastructure code (deploy/infra) or point "
            "FINKS_BRONZE_BUCKET / FINKS_SILVER_BUCKET / FINKS_GOLD_BUCKET at existing ones."
        )
    for bucket in missing:
        filesystem.create_dir(bucket)
