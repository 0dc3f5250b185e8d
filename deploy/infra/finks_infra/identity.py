"""IAM: IRSA roles for the pods and OIDC roles for GitHub Actions, each with the least it needs.

Policy documents are built by pure functions over ARNs (no Pulumi inside) so the unit tests can
read exactly what each role may do. No statement grants a wildcard action, and `Resource: "*"`
appears only for the actions AWS does not scope to a resource (listed in RESOURCE_LESS_ACTIONS).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

# Actions AWS only authorizes on "*" (no resource-level permissions exist for them).
RESOURCE_LESS_ACTIONS = frozenset({"ecr:GetAuthorizationToken"})

S3_READ = ["s3:GetObject", "s3:GetObjectVersion"]
S3_WRITE = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
S3_BUCKET_READ = ["s3:ListBucket", "s3:GetBucketLocation"]
GLUE_READ = [
    "glue:GetDatabase",
    # dbt-athena lists databases to find its schemas (docs/storage.md lists it too). Not
    # verified on AWS: whether Glue also wants `database/*` as the resource for this call.
    "glue:GetDatabases",
    "glue:GetTable",
    "glue:GetTables",
    "glue:GetPartition",
    "glue:GetPartitions",
    "glue:BatchGetPartition",
]
GLUE_WRITE = [
    "glue:CreateTable",
    "glue:UpdateTable",
    "glue:DeleteTable",
    "glue:CreatePartition",
    "glue:BatchCreatePartition",
    "glue:UpdatePartition",
    "glue:DeletePartition",
    "glue:BatchDeletePartition",
]
ATHENA_QUERY = [
    "athena:StartQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:StopQueryExecution",
    "athena:GetWorkGroup",
]


@dataclass(frozen=True)
class Grants:
    """ARNs a role may touch, already resolved to strings."""

    read_buckets: Sequence[str] = ()
    write_buckets: Sequence[str] = ()
    glue_databases: Sequence[str] = ()  # database names
    glue_write: bool = False
    athena_workgroup: str | None = None  # workgroup ARN
    athena_results_bucket: str | None = None
    region: str = ""
    account_id: str = ""


def statement(sid: str, actions: Sequence[str], resources: Sequence[str]) -> dict:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": sorted(resources)}


def data_access_policy(grants: Grants) -> dict:
    """S3 on named buckets, Glue on the named databases, Athena in one workgroup."""
    statements = []
    buckets = sorted({*grants.read_buckets, *grants.write_buckets})
    if grants.athena_results_bucket:
        buckets = sorted({*buckets, grants.athena_results_bucket})
    if buckets:
        statements.append(statement("ListBuckets", S3_BUCKET_READ, buckets))
        statements.append(statement("ReadObjects", S3_READ, [f"{b}/*" for b in buckets]))
    writable = sorted({*grants.write_buckets, *filter(None, [grants.athena_results_bucket])})
    if writable:
        statements.append(statement("WriteObjects", S3_WRITE, [f"{b}/*" for b in writable]))
    if grants.glue_databases:
        prefix = f"arn:aws:glue:{grants.region}:{grants.account_id}"
        glue_resources = [f"{prefix}:catalog"]
        for database in grants.glue_databases:
            glue_resources += [f"{prefix}:database/{database}", f"{prefix}:table/{database}/*"]
        actions = GLUE_READ + (GLUE_WRITE if grants.glue_write else [])
        statements.append(statement("GlueCatalog", actions, glue_resources))
    if grants.athena_workgroup:
        statements.append(statement("AthenaWorkgroup", ATHENA_QUERY, [grants.athena_workgroup]))
    return {"Version": "2012-10-17", "Statement": statements}


def _web_identity_trust(provider_arn: str, issuer: str, subject: str) -> dict:
    """Only tokens of this OIDC issuer for exactly this subject may assume the role."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{issuer}:sub": subject,
                        f"{issuer}:aud": "sts.amazonaws.com",
                    }
                },
            }
        ],
    }


def irsa_trust_policy(provider_arn: str, issuer: str, namespace: str, service_account: str) -> dict:
    """Only this one Kubernetes service account of this cluster may assume the role."""
    return _web_identity_trust(
        provider_arn, issuer, f"system:serviceaccount:{namespace}:{service_account}"
    )


def github_trust_policy(provider_arn: str, repository: str, github_environment: str) -> dict:
    """Only jobs of this repository running in this GitHub environment may assume the role."""
    return _web_identity_trust(
        provider_arn, "token.actions.githubusercontent.com",
        f"repo:{repository}:environment:{github_environment}",
    )


def ecr_push_policy(repository_arn: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            statement("EcrLogin", ["ecr:GetAuthorizationToken"], ["*"]),
            statement(
                "EcrPush",
                [
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:CompleteLayerUpload",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:InitiateLayerUpload",
                    "ecr:PutImage",
                    "ecr:UploadLayerPart",
                ],
                [repository_arn],
            ),
        ],
    }


def eks_deploy_policy(cluster_arn: str) -> dict:
    """`aws eks update-kubeconfig` needs DescribeCluster; what the role may do inside the cluster is
    set by its EKS access entry (namespace-scoped), not by IAM."""
    return {
        "Version": "2012-10-17",
        "Statement": [statement("DescribeCluster", ["eks:DescribeCluster"], [cluster_arn])],
    }


def role_with_policy(
    name: str,
    *,
    trust: pulumi.Input[dict],
    policy: pulumi.Input[dict],
    description: str,
    tags: Mapping[str, str],
) -> aws.iam.Role:
    """A role plus its one inline policy (inline: the policy lives and dies with the role)."""
    role = aws.iam.Role(
        name,
        name=name,
        description=description,
        assume_role_policy=pulumi.Output.from_input(trust).apply(json.dumps),
        max_session_duration=3600,
        tags=dict(tags),
    )
    aws.iam.RolePolicy(
        f"{name}-policy",
        role=role.id,
        policy=pulumi.Output.from_input(policy).apply(json.dumps),
        opts=pulumi.ResourceOptions(parent=role),
    )
    return role
