"""Helm values for the official Dagster charts and the Kubernetes manifests Finks owns.

There is no helm binary or cluster here, so nothing is rendered by Helm. Instead:
- every key Finks sets is checked against the keys the official charts document (a trimmed,
  versioned transcription in deploy/helm/schema/), with types, so a typo cannot be silently
  ignored by `helm upgrade`;
- the layered values (values.yaml + values-<env>.yaml, merged the way Helm merges) must carry
  the production instance: Postgres, K8sRunLauncher, queued runs, one slot per concurrency pool,
  S3 compute logs, run monitoring, run retries that never re-run a step failure, IRSA, secrets by
  reference only;
- the instance config the chart renders from those values is loaded by Dagster itself, which
  refuses conflicting run limits the way the daemon would at start-up;
- the Kubernetes objects that come out of those values are validated with kubernetes-validate
  (offline schemas, strict): the code-location pod fragment, and the run Job that dagster-k8s'
  own `construct_dagster_k8s_job` builds from the run-launcher values and the heavy-run tags;
- the data API manifests (base and each kustomize overlay) are validated the same way;
- broken copies of each fail.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from finks_assets_tests.deploy_tools import (
    DEPLOY_DIR,
    HELM_DIR,
    HelmRenderError,
    helm_instance_config,
    helm_values,
    kubernetes_validate,
    load_instance,
    render_kustomize_overlay,
)

SCHEMA_DIR = HELM_DIR / "schema"
API_DIR = DEPLOY_DIR / "k8s" / "finks-api"
ENVIRONMENTS = ("staging", "prod")
MAX_CONCURRENT_RUNS = {"staging": 4, "prod": 10}  # run pods at once per cluster
KUBERNETES_VERSION = "1.33.0"  # the EKS version docs/deploy.md targets
CHARTS = {
    "dagster": "dagster-chart-keys.yaml",
    "user-deployments": "dagster-user-deployments-chart-keys.yaml",
}
LEAF_TYPES = {"str": str, "int": int, "bool": bool, "map": dict, "list": list}


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def chart_keys(chart: str) -> dict:
    return load_yaml(SCHEMA_DIR / CHARTS[chart])


def layered_values(chart: str, env: str) -> dict:
    return helm_values(chart, env)


def values_files() -> list[tuple[str, Path]]:
    return [
        (chart, path)
        for chart in CHARTS
        for path in sorted((HELM_DIR / chart).glob("values*.yaml"))
    ]


def key_problems(values: object, schema: object, path: str = "") -> list[str]:
    """Keys or types in `values` the chart does not document; empty when all are known."""
    if schema == "any":
        return []
    if isinstance(schema, str):
        expected = LEAF_TYPES[schema]
        if (
            values is None
            or isinstance(values, expected)
            and not (expected is int and isinstance(values, bool))
        ):
            return []
        return [f"{path}: expected {schema}, got {type(values).__name__}"]
    if isinstance(schema, list):
        if not isinstance(values, list):
            return [f"{path}: expected a list"]
        return [
            p
            for i, item in enumerate(values)
            for p in key_problems(item, schema[0], f"{path}[{i}]")
        ]
    if not isinstance(values, dict):
        return [f"{path}: expected a mapping"]
    problems = []
    for key, value in values.items():
        child = f"{path}.{key}" if path else key
        if key not in schema:
            problems.append(f"{child}: not a key of the official chart")
        else:
            problems.extend(key_problems(value, schema[key], child))
    return problems


# --- values against the charts' documented keys -------------------------------------------


@pytest.mark.parametrize(("chart", "path"), values_files(), ids=lambda v: getattr(v, "name", v))
def test_values_use_only_documented_chart_keys(chart: str, path: Path) -> None:
    assert key_problems(load_yaml(path), chart_keys(chart)) == []


def test_schema_notes_name_the_chart_version() -> None:
    for name in CHARTS.values():
        head = (SCHEMA_DIR / name).read_text()
        assert re.search(r"Chart: dagster/dagster(-user-deployments)? \d+\.\d+\.\d+", head), name


def test_invented_or_mistyped_keys_are_rejected() -> None:
    values = load_yaml(HELM_DIR / "dagster" / "values.yaml")
    typo = copy.deepcopy(values)
    typo["dagsterDaemon"]["runMonitor"] = typo["dagsterDaemon"].pop("runMonitoring")
    assert key_problems(typo, chart_keys("dagster")) == [
        "dagsterDaemon.runMonitor: not a key of the official chart"
    ]
    wrong_type = copy.deepcopy(values)
    wrong_type["dagsterDaemon"]["runRetries"]["maxRetries"] = "two"
    assert key_problems(wrong_type, chart_keys("dagster")) == [
        "dagsterDaemon.runRetries.maxRetries: expected int, got str"
    ]
    deployment_typo = load_yaml(HELM_DIR / "user-deployments" / "values.yaml")
    deployment_typo["deployments"][0]["envSecret"] = [{"name": "x"}]
    assert key_problems(deployment_typo, chart_keys("user-deployments")) == [
        "deployments[0].envSecret: not a key of the official chart"
    ]


# --- what the production instance must be -------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_system_chart_configures_the_production_instance(env: str) -> None:
    values = layered_values("dagster", env)
    assert values["postgresql"]["enabled"] is False, "instance storage is the external RDS"
    assert values["postgresql"]["postgresqlHost"], "Postgres host must be set per environment"
    assert "postgresqlPassword" not in values["postgresql"], "passwords come from a secret"
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    daemon = values["dagsterDaemon"]
    assert daemon["enabled"] and daemon["runCoordinator"]["type"] == "QueuedRunCoordinator"
    concurrency = values["concurrency"]
    assert concurrency["enabled"] is True
    assert concurrency["pools"] == {"defaultLimit": 1, "granularity": "op"}
    assert concurrency["runs"]["maxConcurrentRuns"] == MAX_CONCURRENT_RUNS[env]
    limits = {limit["key"]: limit for limit in concurrency["runs"]["tagConcurrencyLimits"]}
    assert set(limits) == {"dagster/backfill", "finks/heavy"}
    per_backfill = limits["dagster/backfill"]
    assert per_backfill["value"] == {"applyLimitPerUniqueValue": True}
    # Chunks of one backfill run side by side, yet leave production slots for other runs.
    assert 1 < per_backfill["limit"] < MAX_CONCURRENT_RUNS["prod"]
    coordinator = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert {"maxConcurrentRuns", "tagConcurrencyLimits"}.isdisjoint(coordinator)
    assert daemon["runMonitoring"]["enabled"] is True
    assert daemon["runMonitoring"]["freeSlotsAfterRunEndSeconds"] > 0
    retries = daemon["runRetries"]
    assert retries["enabled"] is True and retries["maxRetries"] >= 1
    assert retries["retryOnAssetOrOpFailure"] is False, "a gate-held run must not be re-run"
    logs = values["computeLogManager"]
    assert logs["type"] == "S3ComputeLogManager"
    assert logs["config"]["s3ComputeLogManager"]["bucket"] == f"finks-{env}-dagster-logs"
    role = values["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert re.fullmatch(rf"arn:aws:iam::\d{{12}}:role/finks-{env}-dagster", role)
    assert values["dagster-user-deployments"]["enableSubchart"] is False
    assert values["dagsterWebserver"]["workspace"]["servers"] == [
        {"host": "finks", "port": 3030, "name": "finks"}
    ]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_code_location_values(env: str) -> None:
    values = layered_values("user-deployments", env)
    (deployment,) = values["deployments"]
    env_vars = {item["name"]: item.get("value") for item in deployment["env"]}
    assert env_vars["FINKS_ENV"] == "aws"
    assert deployment["codeServerArgs"] == ["-m", "finks_assets.definitions"]
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    assert deployment["image"]["tag"] != "latest"
    assert deployment["envSecrets"] == [{"name": "finks-secrets"}], "secrets by reference only"
    assert deployment["readinessProbe"]["enabled"] and deployment["startupProbe"]["enabled"]
    assert deployment["resources"]["requests"] and deployment["resources"]["limits"]
    role = values["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert re.fullmatch(rf"arn:aws:iam::\d{{12}}:role/finks-{env}-code-location", role)


SECRET_LOOKING = re.compile(r"(password|secret|token|api[_-]?key)", re.IGNORECASE)
# Names that look secret but hold a location: the file itself is mounted from a Secret.
NOT_SECRETS = {"FINKS_API_KEY_STORE"}


def secret_like_values(node: object, path: str = "") -> list[str]:
    """Leaves whose key looks like a credential and that carry a literal value."""
    found = []
    if isinstance(node, dict):
        name = str(node.get("name", ""))
        if (
            set(node) >= {"name", "value"}
            and SECRET_LOOKING.search(name)
            and name not in NOT_SECRETS
        ):
            found.append(f"{path}.{node['name']}")
        for key, value in node.items():
            is_reference = str(key).endswith(("Name", "Ref"))  # secretName: a name, not a value
            if (
                SECRET_LOOKING.search(str(key))
                and not is_reference
                and isinstance(value, str)
                and value != ""
            ):
                found.append(f"{path}.{key}")
            found.extend(secret_like_values(value, f"{path}.{key}"))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found.extend(secret_like_values(item, f"{path}[{i}]"))
    return found


def test_no_secret_values_in_deploy_files() -> None:
    files = [p for _, p in values_files()] + sorted(API_DIR.rglob("*.yaml"))
    offenders = {str(p): secret_like_values(load_yaml(p)) for p in files}
    assert {p: o for p, o in offenders.items() if o} == {}
    leaked = {
        "postgresql": {"postgresqlPassword": "hunter2"},
        "env": [{"name": "FMP_API_KEY", "value": "x"}],
    }
    assert len(secret_like_values(leaked)) == 2


# --- Kubernetes objects produced from the values ------------------------------------------


def write_manifests(tmp_path: Path, documents: list[dict], name: str) -> Path:
    target = tmp_path / f"{name}.yaml"
    target.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return target


def code_location_pod(env: str) -> dict:
    """The pod-level fields the chart copies verbatim from the deployment values."""
    (deployment,) = layered_values("user-deployments", env)["deployments"]
    health = {
        "exec": {"command": ["dagster", "api", "grpc-health-check", "-p", str(deployment["port"])]}
    }

    def probe(name: str) -> dict:
        settings = {k: v for k, v in deployment[name].items() if k != "enabled"}
        return {**health, **settings}

    container = {
        "name": deployment["name"],
        "image": f"{deployment['image']['repository']}:{deployment['image']['tag']}",
        "imagePullPolicy": deployment["image"]["pullPolicy"],
        "args": [
            "dagster",
            "code-server",
            "start",
            "-h",
            "0.0.0.0",
            "-p",
            str(deployment["port"]),
            *deployment["codeServerArgs"],
        ],
        "ports": [{"name": "grpc", "containerPort": deployment["port"]}],
        "env": deployment["env"],
        "envFrom": [{"configMapRef": ref} for ref in deployment["envConfigMaps"]]
        + [{"secretRef": ref} for ref in deployment["envSecrets"]],
        "resources": deployment["resources"],
        "securityContext": deployment["securityContext"],
        "readinessProbe": probe("readinessProbe"),
        "startupProbe": probe("startupProbe"),
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"finks-{env}", "labels": deployment["labels"]},
        "spec": {
            "serviceAccountName": layered_values("user-deployments", env)["serviceAccount"]["name"],
            "securityContext": deployment["podSecurityContext"],
            "containers": [container],
        },
    }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_code_location_pod_fragment_is_valid_kubernetes(env: str, tmp_path: Path) -> None:
    manifest = write_manifests(tmp_path, [code_location_pod(env)], f"code-location-{env}")
    result = kubernetes_validate(manifest, version=KUBERNETES_VERSION)
    assert result.ok, result.output


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_system_component_pod_fields_are_valid_kubernetes(env: str, tmp_path: Path) -> None:
    """resources/securityContext the chart copies into the webserver and daemon pods."""
    values = layered_values("dagster", env)
    pods = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": component.lower()},
            "spec": {
                "securityContext": values[component]["podSecurityContext"],
                "containers": [
                    {
                        "name": "main",
                        "image": "dagster/dagster-celery-k8s:1.13.27",
                        "resources": values[component]["resources"],
                        "securityContext": values[component]["securityContext"],
                    }
                ],
            },
        }
        for component in ("dagsterWebserver", "dagsterDaemon")
    ]
    result = kubernetes_validate(
        write_manifests(tmp_path, pods, "system"), version=KUBERNETES_VERSION
    )
    assert result.ok, result.output


def run_job(env: str, tags: dict[str, object]) -> dict:
    """The run Job dagster-k8s itself builds for a Finks run, as the K8sRunLauncher would."""
    import dagster_k8s.job as k8s_job
    from kubernetes.client import ApiClient

    launcher = layered_values("dagster", env)["runLauncher"]["config"]["k8sRunLauncher"]
    code_values = layered_values("user-deployments", env)
    (deployment,) = code_values["deployments"]
    job_config = k8s_job.DagsterK8sJobConfig(
        job_image=f"{deployment['image']['repository']}:{deployment['image']['tag']}",
        dagster_home="/opt/dagster/dagster_home",
        image_pull_policy=launcher["imagePullPolicy"],
        service_account_name=code_values["serviceAccount"]["name"],
        instance_config_map="dagster-instance",
        postgres_password_secret="dagster-postgresql-secret",
        env_config_maps=[ref["name"] for ref in deployment["envConfigMaps"]],
        env_secrets=[ref["name"] for ref in deployment["envSecrets"]],
        resources=launcher["resources"],
    )
    string_tags = {k: v if isinstance(v, str) else json.dumps(v) for k, v in tags.items()}
    user_defined = k8s_job.get_user_defined_k8s_config(string_tags)
    job = k8s_job.construct_dagster_k8s_job(
        job_config,
        args=["dagster", "api", "execute_run", "{}"],
        job_name="dagster-run-0123456789abcdef",
        user_defined_k8s_config=user_defined,
        env_vars=deployment["env"],
    )
    return ApiClient().sanitize_for_serialization(job)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_run_jobs_built_by_dagster_k8s_are_valid_kubernetes(env: str, tmp_path: Path) -> None:
    heavy_tags = load_yaml(HELM_DIR / "run-tags" / "heavy-backfill.yaml")["tags"]
    default_job = run_job(env, {})
    heavy_job = run_job(env, heavy_tags)
    manifest = write_manifests(tmp_path, [default_job, heavy_job], f"run-jobs-{env}")
    result = kubernetes_validate(manifest, version=KUBERNETES_VERSION)
    assert result.ok, result.output
    default_container = default_job["spec"]["template"]["spec"]["containers"][0]
    heavy_container = heavy_job["spec"]["template"]["spec"]["containers"][0]
    assert default_container["resources"]["limits"]["memory"] == "4Gi"
    assert heavy_container["resources"]["requests"]["memory"] == "8Gi"
    assert heavy_job["spec"]["activeDeadlineSeconds"] == 21600
    assert default_job["spec"]["template"]["spec"]["serviceAccountName"] == "finks-code-location"


def test_heavy_tags_respect_the_queue_limits() -> None:
    tags = load_yaml(HELM_DIR / "run-tags" / "heavy-backfill.yaml")["tags"]
    for env in ENVIRONMENTS:
        limits = layered_values("dagster", env)["concurrency"]["runs"]["tagConcurrencyLimits"]
        heavy = [limit for limit in limits if limit["key"] == "finks/heavy"]
        assert heavy == [{"key": "finks/heavy", "value": tags["finks/heavy"], "limit": 2}]
    assert set(tags) == {"finks/heavy", "dagster-k8s/config"}, "pools, not tags, keep writers apart"


# --- the instance the chart renders, judged by Dagster ------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_rendered_instance_is_accepted_by_dagster(env: str, tmp_path: Path) -> None:
    instance = load_instance(helm_instance_config(layered_values("dagster", env)), tmp_path)
    try:
        concurrency = instance.get_concurrency_config()
        assert concurrency.pool_config.default_pool_limit == 1
        assert concurrency.run_queue_config.max_concurrent_runs == MAX_CONCURRENT_RUNS[env]
        assert concurrency.run_queue_config.should_block_op_concurrency_limited_runs
        assert instance.run_retries_enabled and instance.run_retries_max_retries >= 1
        assert instance.run_retries_retry_on_asset_or_op_failure is False
    finally:
        instance.dispose()


def test_run_limits_in_two_places_are_refused(tmp_path: Path) -> None:
    """The old layout (limits under the run coordinator) next to `concurrency` cannot deploy."""
    from dagster import DagsterInvalidConfigError

    values = copy.deepcopy(layered_values("dagster", "prod"))
    coordinator = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    coordinator["maxConcurrentRuns"] = 10
    with pytest.raises(HelmRenderError):
        helm_instance_config(values)
    # Past the chart's own check (say, via additionalInstanceConfig), Dagster refuses it too.
    rendered = helm_instance_config(layered_values("dagster", "prod"))
    rendered["run_coordinator"]["config"]["max_concurrent_runs"] = 10
    with pytest.raises(DagsterInvalidConfigError, match="max_concurrent_runs"):
        load_instance(rendered, tmp_path)


def test_without_the_flag_dagster_would_retry_step_failures(tmp_path: Path) -> None:
    values = copy.deepcopy(layered_values("dagster", "prod"))
    values["dagsterDaemon"]["runRetries"].pop("retryOnAssetOrOpFailure")
    instance = load_instance(helm_instance_config(values), tmp_path)
    try:
        assert instance.run_retries_retry_on_asset_or_op_failure is True  # Dagster's default
    finally:
        instance.dispose()


def test_bad_run_tag_config_is_rejected_by_dagster_k8s() -> None:
    from dagster import DagsterInvalidConfigError

    with pytest.raises(DagsterInvalidConfigError):
        run_job("staging", {"dagster-k8s/config": {"container_conifg": {}}})


# --- the data API's own manifests ---------------------------------------------------------


def api_documents() -> list[Path]:
    return sorted(p for p in (API_DIR / "base").glob("*.yaml") if p.name != "kustomization.yaml")


def test_api_base_manifests_are_valid_kubernetes() -> None:
    result = kubernetes_validate(*api_documents(), version=KUBERNETES_VERSION)
    assert result.ok, result.output
    kinds = {load_yaml(p)["kind"] for p in api_documents()}
    assert {"Deployment", "Service", "ServiceAccount", "NetworkPolicy"} <= kinds


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_api_overlays_render_to_valid_kubernetes(env: str, tmp_path: Path) -> None:
    documents = render_kustomize_overlay(API_DIR / "overlays" / env)
    manifest = write_manifests(tmp_path, documents, f"finks-api-{env}")
    result = kubernetes_validate(manifest, version=KUBERNETES_VERSION)
    assert result.ok, result.output
    by_kind = {doc["kind"]: doc for doc in documents}
    assert all(doc["metadata"]["namespace"] == "finks" for doc in documents)
    role = by_kind["ServiceAccount"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert role.endswith(f":role/finks-{env}-api")
    container = by_kind["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0]["ports"][0].update(
                containerPort="http"
            ),
            "containerPort",
        ),
        (lambda d: d["spec"].pop("selector"), "selector"),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0].update(livenessProbes={}),
            "livenessProbes",
        ),
    ],
    ids=["port-not-a-number", "missing-selector", "unknown-field"],
)
def test_broken_manifest_fails_validation(breakage, expected: str, tmp_path: Path) -> None:
    deployment = load_yaml(API_DIR / "base" / "deployment.yaml")
    breakage(deployment)
    manifest = write_manifests(tmp_path, [deployment], "broken")
    result = kubernetes_validate(manifest, version=KUBERNETES_VERSION)
    assert not result.ok
    assert expected in result.output, result.output
