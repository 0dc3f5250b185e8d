"""The AWS foundation (deploy/infra, Pulumi in Python) under Pulumi's unit-test mocks.

No Pulumi CLI, no engine and no AWS account: `pulumi.runtime.set_mocks` stands in for the engine
(the only mock here -- nothing in AWS can run offline), so the real program registers its real
resources with their real inputs, which the mocks record. The security rules are then checked on
those recorded inputs: every bucket private, versioned, encrypted, logged, with a lifecycle; no
IAM statement with a wildcard action or an unjustified "*" resource; IRSA and GitHub trust
policies scoped to one subject; secrets named /<env>/finks/<name> and created without a value.
The rule checks are shown to fail when a bucket is made public or versioning is switched off.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pulumi  # the `infra` extra, which `make install` installs
import pytest
import yaml

from finks_assets_tests.deploy_tools import DEPLOY_DIR, deep_merge

INFRA_DIR = DEPLOY_DIR / "infra"
ACCOUNT_ID = "123456789012"
STACKS = ("dev", "staging", "prod")


@dataclass(frozen=True)
class Registered:
    typ: str
    name: str
    inputs: dict


class RecordingMocks(pulumi.runtime.Mocks):
    """Returns each resource's inputs as its state (plus the ARN AWS would assign)."""

    def __init__(self) -> None:
        self.resources: list[Registered] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.resources.append(Registered(args.typ, args.name, dict(args.inputs)))
        state = dict(args.inputs)
        resource_name = state.get("name") or state.get("bucket") or args.name
        service = args.typ.split(":")[1].split("/")[0]
        state["arn"] = {
            "s3": f"arn:aws:s3:::{resource_name}",
            "iam": f"arn:aws:iam::{ACCOUNT_ID}:role/{resource_name}",
        }.get(
            service,
            f"arn:aws:{service}:us-east-1:{ACCOUNT_ID}:{args.typ.split(':')[-1].lower()}/{resource_name}",
        )
        if args.typ == "aws:ecr/repository:Repository":
            state["repositoryUrl"] = f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/{resource_name}"
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/ci",
                "userId": "x",
                "id": ACCOUNT_ID,
            }
        return {}


@pytest.fixture(scope="module", autouse=True)
def infra_on_path() -> Iterator[None]:
    sys.path.insert(0, str(INFRA_DIR))
    yield
    sys.path.remove(str(INFRA_DIR))


def stack_settings(stack: str):
    from finks_infra.settings import FoundationSettings

    config = yaml.safe_load((INFRA_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    finks = {k.split(":", 1)[1]: str(v) for k, v in config.items() if k.startswith("finks:")}
    return FoundationSettings.from_mapping(finks, region=config["aws:region"])


def run_program(stack: str) -> list[Registered]:
    """Run the real program for a stack file under the mocks; return what it registered."""
    from finks_infra.foundation import build
    from finks_infra.outputs import export_outputs

    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="finks-infra", stack=stack, preview=False)
    settings = stack_settings(stack)

    @pulumi.runtime.test
    def program():
        found = build(settings)
        export_outputs(settings, found)
        return pulumi.Output.all(*(r.urn for r in found.roles.values()))

    program()
    return mocks.resources


def by_type(resources: list[Registered], typ: str) -> list[Registered]:
    return [r for r in resources if r.typ == typ]


def loads(document: object) -> dict:
    return json.loads(document) if isinstance(document, str) else document


# --- the rules ------------------------------------------------------------------------------

BUCKET = "aws:s3/bucket:Bucket"


def bucket_problems(resources: list[Registered]) -> list[str]:
    """Every bucket: private, versioned, encrypted, ACLs off, lifecycle, access-logged."""
    buckets = {r.name: r for r in by_type(resources, BUCKET)}
    per_bucket: dict[str, dict[str, list[dict]]] = {name: {} for name in buckets}
    for r in resources:
        bucket_ref = r.inputs.get("bucket")
        if r.typ != BUCKET and isinstance(bucket_ref, str) and bucket_ref.endswith("-id"):
            per_bucket[bucket_ref.removesuffix("-id")].setdefault(r.typ.split(":")[-1], []).append(
                r.inputs
            )
    problems = []
    for name, parts in per_bucket.items():
        if buckets[name].inputs.get("acl") not in (None, "private"):
            problems.append(f"{name}: public ACL {buckets[name].inputs['acl']}")
        blocks = parts.get("BucketPublicAccessBlock", [])
        flags = (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
        if len(blocks) != 1 or not all(blocks[0].get(flag) is True for flag in flags):
            problems.append(f"{name}: public access is not fully blocked")
        versioning = parts.get("BucketVersioning", [])
        if [v["versioningConfiguration"]["status"] for v in versioning] != ["Enabled"]:
            problems.append(f"{name}: versioning is not enabled")
        encryption = parts.get("BucketServerSideEncryptionConfiguration", [])
        algorithms = [
            rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"]
            for e in encryption
            for rule in e["rules"]
        ]
        if not algorithms or not set(algorithms) <= {"aws:kms", "AES256"}:
            problems.append(f"{name}: no default encryption")
        ownership = parts.get("BucketOwnershipControls", [])
        if [o["rule"]["objectOwnership"] for o in ownership] != ["BucketOwnerEnforced"]:
            problems.append(f"{name}: ACLs are not disabled")
        if len(parts.get("BucketLifecycleConfiguration", [])) != 1:
            problems.append(f"{name}: no lifecycle configuration")
        if not name.endswith("-access-logs") and len(parts.get("BucketLogging", [])) != 1:
            problems.append(f"{name}: no server access logging")
        for policy in parts.get("BucketPolicy", []):
            for stmt in loads(policy["policy"])["Statement"]:
                if stmt["Effect"] == "Allow" and stmt.get("Principal") in ("*", {"AWS": "*"}):
                    problems.append(f"{name}: bucket policy allows everyone")
    return problems


def iam_statements(resources: list[Registered]) -> list[tuple[str, dict]]:
    return [
        (r.name, stmt)
        for r in by_type(resources, "aws:iam/rolePolicy:RolePolicy")
        for stmt in loads(r.inputs["policy"])["Statement"]
    ]


def iam_problems(resources: list[Registered]) -> list[str]:
    """No wildcard actions; "*" resources only for actions AWS cannot scope."""
    from finks_infra.identity import RESOURCE_LESS_ACTIONS

    problems = []
    for name, stmt in iam_statements(resources):
        actions = [stmt["Action"]] if isinstance(stmt["Action"], str) else stmt["Action"]
        resources_ = [stmt["Resource"]] if isinstance(stmt["Resource"], str) else stmt["Resource"]
        if stmt["Effect"] != "Allow":
            continue
        for action in actions:
            if action == "*" or action.endswith(":*"):
                problems.append(f"{name}: wildcard action {action}")
        if "*" in resources_ and not set(actions) <= RESOURCE_LESS_ACTIONS:
            problems.append(f"{name}: {actions} on Resource '*'")
    return problems


# --- tests ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def staging() -> list[Registered]:
    return run_program("staging")


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_passes_the_security_rules(stack: str) -> None:
    resources = run_program(stack)
    assert len(by_type(resources, BUCKET)) == 6
    assert bucket_problems(resources) == []
    assert len(iam_statements(resources)) >= 10, "the rules must see the role policies"
    assert iam_problems(resources) == []


def test_the_lake_and_query_resources_exist(staging: list[Registered]) -> None:
    bucket_names = {r.inputs["bucket"] for r in by_type(staging, BUCKET)}
    assert bucket_names == {
        f"finks-staging-{p}"
        for p in ("bronze", "silver", "gold", "athena-results", "dagster-logs", "access-logs")
    }
    glue_databases = by_type(staging, "aws:glue/catalogDatabase:CatalogDatabase")
    databases = {r.inputs["name"] for r in glue_databases}
    assert databases == {"finks_staging", "finks_staging_gold"}  # lake (silver), gold (dbt-athena)
    (workgroup,) = by_type(staging, "aws:athena/workgroup:Workgroup")
    config = workgroup.inputs["configuration"]
    assert config["enforceWorkgroupConfiguration"] is True
    assert config["bytesScannedCutoffPerQuery"] == 10 * 1024**3
    assert (
        config["resultConfiguration"]["outputLocation"]
        == "s3://finks-staging-athena-results/athena/"
    )


def test_bronze_is_kept_silver_transitions_gold_stays_hot(staging: list[Registered]) -> None:
    rules = {
        r.inputs["bucket"].removesuffix("-id").rsplit("-", 1)[-1]: r.inputs["rules"]
        for r in by_type(
            staging, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
        )
    }
    (bronze,) = rules["bronze"]
    assert "expiration" not in bronze, "current bronze objects are never expired"
    assert [t["storageClass"] for t in bronze["transitions"]] == ["STANDARD_IA", "GLACIER_IR"]
    (silver,) = rules["silver"]
    assert silver["noncurrentVersionExpiration"]["noncurrentDays"] == 30
    (gold,) = rules["gold"]
    assert "transitions" not in gold and "expiration" not in gold


def test_irsa_roles_trust_one_service_account_each(staging: list[Registered]) -> None:
    settings = stack_settings("staging")
    roles = {
        r.inputs["name"]: loads(r.inputs["assumeRolePolicy"])
        for r in by_type(staging, "aws:iam/role:Role")
    }
    expected = {
        "finks-staging-dagster": "dagster",
        "finks-staging-code-location": "finks-code-location",
        "finks-staging-api": "finks-api",
    }
    for role, service_account in expected.items():
        (stmt,) = roles[role]["Statement"]
        assert stmt["Principal"] == {"Federated": settings.eks_oidc_provider_arn}
        assert stmt["Condition"]["StringEquals"][f"{settings.eks_oidc_issuer}:sub"] == (
            f"system:serviceaccount:finks:{service_account}"
        )
    (deploy,) = roles["finks-staging-github-deploy"]["Statement"]
    assert deploy["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == (
        "repo:example-org/finks:environment:staging"
    )


def test_role_policies_are_scoped_to_the_stack(staging: list[Registered]) -> None:
    statements: dict[str, list[dict]] = {}
    for name, stmt in iam_statements(staging):
        statements.setdefault(name.removesuffix("-policy"), []).append(stmt)
    assert set(statements) == {
        "finks-staging-dagster",
        "finks-staging-code-location",
        "finks-staging-api",
        "finks-staging-github-deploy",
    }
    api_resources = {res for stmt in statements["finks-staging-api"] for res in stmt["Resource"]}
    assert "arn:aws:s3:::finks-staging-gold/*" in api_resources
    assert not any("bronze" in res or "silver" in res for res in api_resources)
    for stmt in statements["finks-staging-api"]:
        if {"s3:PutObject", "s3:DeleteObject"} & set(stmt["Action"]):
            # The API writes nothing but its own Athena query results.
            assert stmt["Resource"] == ["arn:aws:s3:::finks-staging-athena-results/*"]
    dagster_resources = {
        res for stmt in statements["finks-staging-dagster"] for res in stmt["Resource"]
    }
    assert dagster_resources == {
        "arn:aws:s3:::finks-staging-dagster-logs",
        "arn:aws:s3:::finks-staging-dagster-logs/*",
    }
    code_resources = {
        res for stmt in statements["finks-staging-code-location"] for res in stmt["Resource"]
    }
    glue = "arn:aws:glue:us-east-1:123456789012"
    assert {f"{glue}:database/finks_staging", f"{glue}:table/finks_staging_gold/*"} <= code_resources
    code_glue_actions = {
        action
        for stmt in statements["finks-staging-code-location"]
        if f"{glue}:database/finks_staging_gold" in stmt["Resource"]
        for action in stmt["Action"]
    }
    assert "glue:CreateTable" in code_glue_actions  # dbt-athena writes the gold tables
    api_glue = [s for s in statements["finks-staging-api"] if s["Sid"] == "GlueCatalog"]
    (api_glue_stmt,) = api_glue
    assert f"{glue}:table/finks_staging_gold/*" in api_glue_stmt["Resource"]
    assert f"{glue}:database/finks_staging" not in api_glue_stmt["Resource"]  # gold only
    assert not any(a.startswith(("glue:Create", "glue:Update", "glue:Delete"))
                   for a in api_glue_stmt["Action"])
    assert "arn:aws:s3:::finks-staging-access-logs/*" not in code_resources


def test_secrets_follow_the_naming_convention_and_carry_no_value(staging: list[Registered]) -> None:
    names = {r.inputs["name"] for r in by_type(staging, "aws:secretsmanager/secret:Secret")}
    assert names == {"/staging/finks/fmp-api-key", "/staging/finks/dagster-postgres-password"}
    assert by_type(staging, "aws:secretsmanager/secretVersion:SecretVersion") == []


def test_only_the_prod_stack_owns_the_ecr_repository() -> None:
    prod = run_program("prod")
    (repository,) = by_type(prod, "aws:ecr/repository:Repository")
    assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
    assert by_type(run_program("dev"), "aws:ecr/repository:Repository") == []


# --- the rules catch regressions ------------------------------------------------------------


def patched(monkeypatch: pytest.MonkeyPatch, cls_name: str, change: Callable[[dict], None]) -> None:
    """Simulate an edit to deploy/infra: every `aws.s3.<cls_name>` is created with `change`d args."""
    import pulumi_aws as aws

    original = getattr(aws.s3, cls_name)

    def edited(resource_name, *args, **kwargs):
        change(kwargs)
        return original(resource_name, *args, **kwargs)

    monkeypatch.setattr(aws.s3, cls_name, edited)


def test_a_public_bucket_fails_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    patched(
        monkeypatch,
        "BucketPublicAccessBlock",
        lambda kw: kw.update(restrict_public_buckets=False, block_public_policy=False),
    )
    problems = bucket_problems(run_program("staging"))
    assert len(problems) == 6
    assert all("public access is not fully blocked" in p for p in problems)


def test_a_public_acl_fails_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    patched(monkeypatch, "Bucket", lambda kw: kw.update(acl="public-read"))
    assert any("public ACL public-read" in p for p in bucket_problems(run_program("staging")))


def test_versioning_switched_off_fails_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    patched(
        monkeypatch,
        "BucketVersioning",
        lambda kw: kw.update(versioning_configuration={"status": "Suspended"}),
    )
    problems = bucket_problems(run_program("staging"))
    assert len(problems) == 6
    assert all("versioning is not enabled" in p for p in problems)


def test_a_wildcard_policy_fails_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    from finks_infra import identity

    original = identity.data_access_policy

    def too_broad(grants):
        policy = original(grants)
        policy["Statement"].append(
            {"Sid": "Oops", "Effect": "Allow", "Action": ["s3:*"], "Resource": ["*"]}
        )
        return policy

    monkeypatch.setattr("finks_infra.foundation.data_access_policy", too_broad)
    problems = iam_problems(run_program("staging"))
    assert any("wildcard action s3:*" in p for p in problems)
    assert any("on Resource '*'" in p for p in problems)


def test_the_pulumi_entry_point_reads_the_stack_config() -> None:
    """deploy/infra/__main__.py (what `pulumi up` runs) with the staging stack file as config."""
    import runpy

    config = yaml.safe_load((INFRA_DIR / "Pulumi.staging.yaml").read_text())["config"]
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="finks-infra", stack="staging", preview=False)
    pulumi.runtime.set_all_config({key: str(value) for key, value in config.items()})
    try:

        @pulumi.runtime.test
        def program():
            runpy.run_path(str(INFRA_DIR / "__main__.py"), run_name="__main__")

        program()
    finally:
        pulumi.runtime.set_all_config({})
    names = {r.inputs.get("name") for r in by_type(mocks.resources, "aws:iam/role:Role")}
    assert "finks-staging-code-location" in names
    assert bucket_problems(mocks.resources) == []


def test_the_configmap_output_names_both_glue_databases(monkeypatch: pytest.MonkeyPatch) -> None:
    """`k8s_config_env` (-> ConfigMap finks-aws) carries the names the app's settings read."""
    exported: dict[str, object] = {}
    resolved: dict[str, object] = {}
    monkeypatch.setattr(pulumi, "export", lambda name, value: exported.__setitem__(name, value))
    from finks_infra.foundation import build
    from finks_infra.outputs import export_outputs

    pulumi.runtime.set_mocks(RecordingMocks(), project="finks-infra", stack="prod", preview=False)
    settings = stack_settings("prod")

    @pulumi.runtime.test
    def program():
        export_outputs(settings, build(settings))
        names = ("k8s_config_env", "gold_glue_database")
        return pulumi.Output.all(*(exported[n] for n in names)).apply(
            lambda values: resolved.update(zip(names, values, strict=True))
        )

    program()
    env = resolved["k8s_config_env"]
    assert isinstance(env, dict)
    assert (env["FINKS_GLUE_DATABASE"], env["FINKS_GOLD_GLUE_DATABASE"]) == (
        "finks_prod",
        "finks_prod_gold",
    )
    assert resolved["gold_glue_database"] == "finks_prod_gold"


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_helm_values_and_api_manifests_name_what_the_stack_creates(stack: str) -> None:
    """Service accounts, IRSA role names and the compute-log bucket agree across deploy/."""
    from finks_infra.foundation import SERVICE_ACCOUNTS

    resources = run_program(stack)
    roles = {r.inputs["name"] for r in by_type(resources, "aws:iam/role:Role")}
    buckets = {r.inputs["bucket"] for r in by_type(resources, BUCKET)}
    helm = DEPLOY_DIR / "helm"

    def values(chart: str) -> dict:
        base = yaml.safe_load((helm / chart / "values.yaml").read_text())
        return deep_merge(base, yaml.safe_load((helm / chart / f"values-{stack}.yaml").read_text()))

    system, code = values("dagster"), values("user-deployments")
    api_sa = yaml.safe_load((DEPLOY_DIR / "k8s/finks-api/base/serviceaccount.yaml").read_text())
    assert system["serviceAccount"]["name"] == SERVICE_ACCOUNTS["dagster"]
    assert code["serviceAccount"]["name"] == SERVICE_ACCOUNTS["code-location"]
    assert api_sa["metadata"]["name"] == SERVICE_ACCOUNTS["api"]
    for annotated in (system, code):
        role_arn = annotated["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
        assert role_arn.rsplit("/", 1)[1] in roles
    log_bucket = yaml.safe_load((helm / "dagster" / f"values-{stack}.yaml").read_text())[
        "computeLogManager"
    ]["config"]["s3ComputeLogManager"]["bucket"]
    assert log_bucket in buckets
