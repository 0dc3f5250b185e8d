"""Pulumi entry point: `pulumi up` in deploy/infra builds the stack named by `pulumi stack select`."""

import pulumi
from finks_infra.foundation import build
from finks_infra.outputs import export_outputs
from finks_infra.settings import FoundationSettings

config = pulumi.Config("finks")
keys = (
    "environment",
    "bucketPrefix",
    "namespace",
    "eksClusterName",
    "eksOidcProviderArn",
    "eksOidcIssuer",
    "githubOidcProviderArn",
    "githubRepository",
    "athenaBytesScannedCutoff",
    "ownsSharedCiResources",
)
settings = FoundationSettings.from_mapping(
    {key: value for key in keys if (value := config.get(key)) is not None},
    region=pulumi.Config("aws").require("region"),
)
export_outputs(settings, build(settings))
