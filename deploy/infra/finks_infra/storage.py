"""S3 buckets: the lake zones, Athena results, Dagster compute logs, and their access logs.

Every bucket gets the same baseline, in one function, so no bucket can be created without it:
ACLs disabled (bucket owner enforced), all four public-access blocks on, versioning on, default
encryption, server access logging (except the log bucket itself) and a lifecycle policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

ABORT_INCOMPLETE_UPLOADS = {"days_after_initiation": 7}

# Per-bucket lifecycle, by purpose (issue 7: bronze kept, silver compacted/transitioned, gold
# queryable). Current objects in bronze are never expired: bronze is the replayable record.
LIFECYCLE_RULES: dict[str, list[dict]] = {
    "bronze": [
        {
            "id": "bronze-keep-and-tier",
            "status": "Enabled",
            "filter": {},
            "transitions": [
                {"days": 30, "storage_class": "STANDARD_IA"},
                {"days": 180, "storage_class": "GLACIER_IR"},  # still millisecond reads
            ],
            "noncurrent_version_expiration": {"noncurrent_days": 90},
            "abort_incomplete_multipart_upload": ABORT_INCOMPLETE_UPLOADS,
        }
    ],
    # Silver partitions are rewritten whole (compaction): old versions go after 30 days.
    "silver": [
        {
            "id": "silver-compact-and-tier",
            "status": "Enabled",
            "filter": {},
            "transitions": [{"days": 90, "storage_class": "STANDARD_IA"}],
            "noncurrent_version_expiration": {"noncurrent_days": 30},
            "abort_incomplete_multipart_upload": ABORT_INCOMPLETE_UPLOADS,
        }
    ],
    # Gold stays in STANDARD: it is what Athena and the API query all day.
    "gold": [
        {
            "id": "gold-queryable",
            "status": "Enabled",
            "filter": {},
            "noncurrent_version_expiration": {"noncurrent_days": 30},
            "abort_incomplete_multipart_upload": ABORT_INCOMPLETE_UPLOADS,
        }
    ],
    "athena-results": [
        {
            "id": "athena-results-expire",
            "status": "Enabled",
            "filter": {},
            "expiration": {"days": 30},
            "noncurrent_version_expiration": {"noncurrent_days": 1},
            "abort_incomplete_multipart_upload": ABORT_INCOMPLETE_UPLOADS,
        }
    ],
    "dagster-logs": [
        {
            "id": "compute-logs-expire",
            "status": "Enabled",
            "filter": {},
            "expiration": {"days": 90},
            "noncurrent_version_expiration": {"noncurrent_days": 7},
            "abort_incomplete_multipart_upload": ABORT_INCOMPLETE_UPLOADS,
        }
    ],
    "access-logs": [
        {
            "id": "access-logs-expire",
            "status": "Enabled",
            "filter": {},
            "expiration": {"days": 365},
            "noncurrent_version_expiration": {"noncurrent_days": 7},
            "abort_incomplete_multipart_upload": ABORT_INCOMPLETE_UPLOADS,
        }
    ],
}
LAKE_ZONES = ("bronze", "silver", "gold")


@dataclass(frozen=True)
class SecureBucket:
    purpose: str
    bucket: aws.s3.Bucket

    @property
    def arn(self) -> pulumi.Output[str]:
        return self.bucket.arn

    @property
    def name(self) -> pulumi.Output[str]:
        return self.bucket.bucket


def secure_bucket(
    stack_name: str,
    purpose: str,
    *,
    access_logs: SecureBucket | None,
    kms: bool = True,
    log_delivery_account: str | None = None,
    tags: dict[str, str],
) -> SecureBucket:
    """One bucket with the full baseline. Only the access-log bucket passes `kms=False` (S3 server
    access logging delivers to SSE-S3 targets only) and `log_delivery_account`."""
    name = f"{stack_name}-{purpose}"
    bucket = aws.s3.Bucket(
        name, bucket=name, force_destroy=False, tags={**tags, "finks:purpose": purpose}
    )
    child = pulumi.ResourceOptions(parent=bucket)
    aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        bucket=bucket.id,
        rule={"object_ownership": "BucketOwnerEnforced"},
        opts=child,
    )
    aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access-block",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    aws.s3.BucketVersioning(
        f"{name}-versioning",
        bucket=bucket.id,
        versioning_configuration={"status": "Enabled"},
        opts=child,
    )
    encryption = {"sse_algorithm": "aws:kms" if kms else "AES256"}
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        bucket=bucket.id,
        rules=[{"apply_server_side_encryption_by_default": encryption, "bucket_key_enabled": kms}],
        opts=child,
    )
    aws.s3.BucketLifecycleConfiguration(
        f"{name}-lifecycle", bucket=bucket.id, rules=LIFECYCLE_RULES[purpose], opts=child
    )
    aws.s3.BucketPolicy(
        f"{name}-policy",
        bucket=bucket.id,
        policy=bucket.arn.apply(
            lambda arn: json.dumps(bucket_policy_document(arn, log_delivery_account))
        ),
        opts=child,
    )
    if access_logs is not None:
        aws.s3.BucketLogging(
            f"{name}-logging",
            bucket=bucket.id,
            target_bucket=access_logs.bucket.id,
            target_prefix=f"{purpose}/",
            opts=child,
        )
    return SecureBucket(purpose, bucket)


def bucket_policy_document(arn: str, log_delivery_account: str | None) -> dict:
    """TLS-only access for everyone; on the log bucket, also S3 log delivery for this account."""
    statements: list[dict] = [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["s3:*"],
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
    if log_delivery_account is not None:
        statements.append(
            {
                "Sid": "S3ServerAccessLogsDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": ["s3:PutObject"],
                "Resource": [f"{arn}/*"],
                "Condition": {"StringEquals": {"aws:SourceAccount": log_delivery_account}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}
