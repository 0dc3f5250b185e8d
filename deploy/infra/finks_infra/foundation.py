"""The whole foundation of one stack (dev, staging or prod), built from FoundationSettings."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from finks_infra.identity import (
    Grants,
    data_access_policy,
    ecr_push_policy,
    eks_deploy_policy,
    github_trust_policy,
    irsa_trust_policy,
    role_with_policy,
)
from finks_infra.settings import GITHUB_ENVIRONMENT, FoundationSettings
from finks_infra.storage import LAKE_ZONES, SecureBucket, secure_bucket

# Kubernetes service accounts (deploy/helm and deploy/k8s use these exact names).
SERVICE_ACCOUNTS = {
    "dagster": "dagster",
    "code-location": "finks-code-location",
    "api": "finks-api",
}
# Secrets Manager names follow /<env>/finks/<name>; values are set by an operator, never here.
SECRETS = {
    "fmp-api-key": "Financial Modeling Prep API key (FMP_API_KEY) for the fmp source",
    "dagster-postgres-password": "Password of the Dagster instance database (RDS)",
}
EKS_NAMESPACE_ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy"


@dataclass
class Foundation:
    buckets: dict[str, SecureBucket] = field(default_factory=dict)
    roles: dict[str, aws.iam.Role] = field(default_factory=dict)
    secrets: dict[str, aws.secretsmanager.Secret] = field(default_factory=dict)
    glue_database: aws.glue.CatalogDatabase | None = None
    gold_glue_database: aws.glue.CatalogDatabase | None = None
    athena_workgroup: aws.athena.Workgroup | None = None
    ecr_repository: aws.ecr.Repository | None = None


def build(settings: FoundationSettings) -> Foundation:
    account_id = aws.get_caller_identity().account_id
    tags = {"project": "finks", "environment": settings.environment, "managed-by": "pulumi"}
    stack = settings.name
    found = Foundation()

    logs = secure_bucket(
        stack,
        "access-logs",
        access_logs=None,
        kms=False,
        log_delivery_account=account_id,
        tags=tags,
    )
    found.buckets["access-logs"] = logs
    for purpose in (*LAKE_ZONES, "athena-results", "dagster-logs"):
        found.buckets[purpose] = secure_bucket(stack, purpose, access_logs=logs, tags=tags)

    found.glue_database = aws.glue.CatalogDatabase(
        f"{stack}-glue",
        name=glue_database_name(settings),
        description=f"Finks {settings.environment} lake tables (silver partitions, dbt views)",
        tags=tags,
    )
    found.gold_glue_database = aws.glue.CatalogDatabase(
        f"{stack}-glue-gold",
        name=gold_glue_database_name(settings),
        description=f"Finks {settings.environment} gold marts (dbt-athena), read by the data API",
        tags=tags,
    )
    results = found.buckets["athena-results"]
    found.athena_workgroup = aws.athena.Workgroup(
        f"{stack}-athena",
        name=stack,
        description="Finks queries: enforced result location, encryption and scan limit",
        force_destroy=False,
        configuration={
            "enforce_workgroup_configuration": True,
            "publish_cloudwatch_metrics_enabled": True,
            "bytes_scanned_cutoff_per_query": settings.athena_bytes_scanned_cutoff,
            "result_configuration": {
                "output_location": results.name.apply(lambda b: f"s3://{b}/athena/"),
                "encryption_configuration": {"encryption_option": "SSE_S3"},
            },
        },
        tags=tags,
    )

    for key, description in SECRETS.items():
        found.secrets[key] = aws.secretsmanager.Secret(
            f"{stack}-{key}",
            name=f"/{settings.environment}/finks/{key}",
            description=description,
            recovery_window_in_days=7,
            tags=tags,
        )

    _irsa_roles(settings, found, account_id, tags)
    _ci_roles(settings, found, account_id, tags)
    return found


def _irsa_roles(
    settings: FoundationSettings, found: Foundation, account_id: str, tags: dict
) -> None:
    b = found.buckets
    lake = [b[zone].arn for zone in LAKE_ZONES]
    assert found.athena_workgroup is not None and found.glue_database is not None
    common = {"region": settings.region, "account_id": account_id}

    def trust(service_account: str) -> dict:
        return irsa_trust_policy(
            settings.eks_oidc_provider_arn,
            settings.eks_oidc_issuer,
            settings.namespace,
            service_account,
        )

    grants = {
        # Webserver and daemon: compute logs only.
        "dagster": pulumi.Output.all(b["dagster-logs"].arn).apply(
            lambda arns: Grants(read_buckets=arns, write_buckets=arns, **common)
        ),
        # Code location and its run pods: the lake, the catalog, Athena, and compute-log uploads.
        "code-location": pulumi.Output.all(
            *lake, b["dagster-logs"].arn, b["athena-results"].arn, found.athena_workgroup.arn
        ).apply(
            lambda arns: Grants(
                read_buckets=arns[:4],
                write_buckets=arns[:4],
                glue_databases=[glue_database_name(settings), gold_glue_database_name(settings)],
                glue_write=True,
                athena_workgroup=arns[5],
                athena_results_bucket=arns[4],
                **common,
            )
        ),
        # Data API: read gold through Athena (the gold Glue database only); nothing else.
        "api": pulumi.Output.all(
            b["gold"].arn, b["athena-results"].arn, found.athena_workgroup.arn
        ).apply(
            lambda arns: Grants(
                read_buckets=arns[:1],
                glue_databases=[gold_glue_database_name(settings)],
                athena_workgroup=arns[2],
                athena_results_bucket=arns[1],
                **common,
            )
        ),
    }
    for key, service_account in SERVICE_ACCOUNTS.items():
        found.roles[key] = role_with_policy(
            f"{settings.name}-{key}",
            trust=trust(service_account),
            policy=grants[key].apply(data_access_policy),
            description=f"IRSA role of the {service_account} service account ({settings.environment})",
            tags=tags,
        )


def glue_database_name(settings: FoundationSettings) -> str:
    """Glue/Athena names allow no '-': finks-staging -> finks_staging."""
    return settings.name.replace("-", "_")


def gold_glue_database_name(settings: FoundationSettings) -> str:
    """finks_staging_gold: the app's default for FINKS_GOLD_GLUE_DATABASE (settings.py), per stack."""
    return f"{glue_database_name(settings)}_gold"


def _ci_roles(settings: FoundationSettings, found: Foundation, account_id: str, tags: dict) -> None:
    cluster_arn = f"arn:aws:eks:{settings.region}:{account_id}:cluster/{settings.eks_cluster_name}"
    deploy = role_with_policy(
        f"{settings.name}-github-deploy",
        trust=github_trust_policy(
            settings.github_oidc_provider_arn,
            settings.github_repository,
            GITHUB_ENVIRONMENT[settings.environment],
        ),
        policy=eks_deploy_policy(cluster_arn),
        description=f"GitHub Actions deploy job for {settings.environment} (deploy.yml)",
        tags=tags,
    )
    found.roles["github-deploy"] = deploy
    entry = aws.eks.AccessEntry(
        f"{settings.name}-github-deploy-access",
        cluster_name=settings.eks_cluster_name,
        principal_arn=deploy.arn,
        type="STANDARD",
        tags=tags,
    )
    aws.eks.AccessPolicyAssociation(
        f"{settings.name}-github-deploy-namespace-admin",
        cluster_name=settings.eks_cluster_name,
        principal_arn=deploy.arn,
        policy_arn=EKS_NAMESPACE_ADMIN,
        access_scope={"type": "namespace", "namespaces": [settings.namespace]},
        opts=pulumi.ResourceOptions(depends_on=[entry]),
    )
    if not settings.owns_shared_ci_resources:
        return
    repository = aws.ecr.Repository(
        f"{settings.bucket_prefix}-ecr",
        name=settings.bucket_prefix,
        image_tag_mutability="IMMUTABLE",
        image_scanning_configuration={"scan_on_push": True},
        encryption_configurations=[{"encryption_type": "KMS"}],
        force_delete=False,
        tags=tags,
    )
    found.ecr_repository = repository
    found.roles["github-ecr-push"] = role_with_policy(
        f"{settings.bucket_prefix}-github-ecr-push",
        trust=github_trust_policy(
            settings.github_oidc_provider_arn, settings.github_repository, "build"
        ),
        policy=repository.arn.apply(ecr_push_policy),
        description="GitHub Actions image job (deploy.yml): push to the Finks ECR repository",
        tags=tags,
    )
