"""Stack settings: what differs between the dev, staging and prod stacks (Pulumi.<stack>.yaml).

Kept as a plain dataclass built from a mapping so the unit tests can build the foundation for
each stack file without the Pulumi CLI.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

ENVIRONMENTS = ("dev", "staging", "prod")
# GitHub environment whose deploy job may assume this stack's deploy role (deploy.yml).
GITHUB_ENVIRONMENT = {"dev": "dev", "staging": "staging", "prod": "production"}
BUCKET_PREFIX = re.compile(r"^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$")


@dataclass(frozen=True)
class FoundationSettings:
    environment: str
    region: str
    bucket_prefix: str
    namespace: str
    eks_cluster_name: str
    eks_oidc_provider_arn: str
    eks_oidc_issuer: str
    github_oidc_provider_arn: str
    github_repository: str
    athena_bytes_scanned_cutoff: int
    owns_shared_ci_resources: bool

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ValueError(f"finks:environment must be one of {ENVIRONMENTS}")
        if not BUCKET_PREFIX.match(self.bucket_prefix):
            raise ValueError("finks:bucketPrefix must be 3-32 lowercase letters, digits or '-'")
        if self.eks_oidc_issuer.startswith("https://"):
            raise ValueError("finks:eksOidcIssuer is the issuer without https://")
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", self.github_repository):
            raise ValueError("finks:githubRepository must be <owner>/<repo>")
        if self.athena_bytes_scanned_cutoff < 10 * 1024 * 1024:
            raise ValueError(
                "finks:athenaBytesScannedCutoff must be at least 10 MB (Athena's minimum)"
            )

    @property
    def name(self) -> str:
        """Prefix of every resource name of this stack, e.g. `finks-staging`."""
        return f"{self.bucket_prefix}-{self.environment}"

    @classmethod
    def from_mapping(cls, config: Mapping[str, str], region: str) -> FoundationSettings:
        """From the `finks:` config keys (prefix stripped), as in Pulumi.<stack>.yaml."""
        return cls(
            environment=config["environment"],
            region=region,
            bucket_prefix=config.get("bucketPrefix", "finks"),
            namespace=config.get("namespace", "finks"),
            eks_cluster_name=config["eksClusterName"],
            eks_oidc_provider_arn=config["eksOidcProviderArn"],
            eks_oidc_issuer=config["eksOidcIssuer"],
            github_oidc_provider_arn=config["githubOidcProviderArn"],
            github_repository=config["githubRepository"],
            athena_bytes_scanned_cutoff=int(config.get("athenaBytesScannedCutoff", 10 * 1024**3)),
            owns_shared_ci_resources=str(config.get("ownsSharedCiResources", "false")).lower()
            == "true",
        )
