"""Stack outputs: what the Helm deploy and the `finks-aws` ConfigMap need (docs/deploy.md)."""

from __future__ import annotations

import pulumi

from finks_infra.foundation import Foundation
from finks_infra.settings import FoundationSettings
from finks_infra.storage import LAKE_ZONES


def export_outputs(settings: FoundationSettings, found: Foundation) -> None:
    for purpose, bucket in found.buckets.items():
        pulumi.export(f"{purpose.replace('-', '_')}_bucket", bucket.name)
    for key, role in found.roles.items():
        pulumi.export(f"{key.replace('-', '_')}_role_arn", role.arn)
    for key, secret in found.secrets.items():
        pulumi.export(f"{key.replace('-', '_')}_secret_name", secret.name)
    assert found.glue_database is not None and found.athena_workgroup is not None
    assert found.gold_glue_database is not None
    pulumi.export("glue_database", found.glue_database.name)
    pulumi.export("gold_glue_database", found.gold_glue_database.name)
    pulumi.export("athena_workgroup", found.athena_workgroup.name)
    if found.ecr_repository is not None:
        pulumi.export("ecr_repository_url", found.ecr_repository.repository_url)
    # `pulumi stack output k8s_config_env --json` -> the finks-aws ConfigMap (non-secret settings).
    pulumi.export(
        "k8s_config_env",
        pulumi.Output.all(
            *(found.buckets[z].name for z in LAKE_ZONES),
            found.glue_database.name,
            found.athena_workgroup.name,
            found.buckets["athena-results"].name,
            found.gold_glue_database.name,
        ).apply(
            lambda v: {
                "AWS_REGION": settings.region,
                "FINKS_BRONZE_BUCKET": v[0],
                "FINKS_SILVER_BUCKET": v[1],
                "FINKS_GOLD_BUCKET": v[2],
                "FINKS_GLUE_DATABASE": v[3],
                "FINKS_ATHENA_WORKGROUP": v[4],
                "FINKS_ATHENA_RESULTS_URI": f"s3://{v[5]}/athena/",
                "FINKS_GOLD_GLUE_DATABASE": v[6],
            }
        ),
    )
