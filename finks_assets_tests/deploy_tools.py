"""Run the offline deployment checkers the way CI does, for the test_deploy_* tests.

Each helper returns the tool's exit code and output instead of asserting, so a test can show
both sides: the project's own files pass, and a deliberately broken copy fails.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEPLOY_DIR = REPO_ROOT / "deploy"
WORKFLOWS_DIR = REPO_ROOT / ".github" / "workflows"


@dataclass(frozen=True)
class ToolResult:
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def venv_tool(name: str) -> str:
    """The checker installed next to this interpreter (the test group), never a stray global one."""
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed: make install-test")
    return found


def run_tool(name: str, *args: str | Path, cwd: Path | None = None) -> ToolResult:
    completed = subprocess.run(
        [venv_tool(name), *map(str, args)],
        cwd=cwd or REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return ToolResult(completed.returncode, completed.stdout + completed.stderr)


def hadolint(dockerfile: Path) -> ToolResult:
    return run_tool("hadolint", "--no-color", dockerfile)


def check_workflow_schema(*workflows: Path) -> ToolResult:
    return run_tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *workflows)


def zizmor(*workflows: Path) -> ToolResult:
    return run_tool("zizmor", "--offline", "--no-progress", *workflows)


def kubernetes_validate(*manifests: Path, version: str) -> ToolResult:
    return run_tool("kubernetes-validate", "--strict", "--kubernetes-version", version, *manifests)


def deep_merge(base: object, overlay: object) -> object:
    """Helm's rule for layering values files: maps merge key by key, anything else is replaced."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        merged = dict(base)
        for key, value in overlay.items():
            merged[key] = deep_merge(base.get(key), value) if key in base else value
        return merged
    return overlay


def render_kustomize_overlay(overlay_dir: Path) -> list[dict]:
    """Render a Finks kustomize overlay without the kustomize binary (none is installed here).

    Supports exactly what deploy/k8s overlays use -- `resources` (files or a base directory),
    `namespace`, `patches` with a `path` (strategic merge of maps, matched by kind + name) and
    `replicas` -- and refuses anything else, so a new kustomize feature cannot be silently ignored.
    """
    import yaml

    kustomization = yaml.safe_load((overlay_dir / "kustomization.yaml").read_text())
    supported = {"apiVersion", "kind", "resources", "namespace", "patches", "replicas"}
    unsupported = set(kustomization) - supported
    if unsupported:
        raise ValueError(f"{overlay_dir}: kustomization uses unsupported fields {unsupported}")
    documents: list[dict] = []
    for resource in kustomization.get("resources", []):
        target = (overlay_dir / resource).resolve()
        if target.is_dir():
            documents.extend(render_kustomize_overlay(target))
        else:
            documents.extend(d for d in yaml.safe_load_all(target.read_text()) if d)
    for patch in kustomization.get("patches", []):
        patch_doc = yaml.safe_load((overlay_dir / patch["path"]).read_text())
        matches = [
            i
            for i, doc in enumerate(documents)
            if doc["kind"] == patch_doc["kind"]
            and doc["metadata"]["name"] == patch_doc["metadata"]["name"]
        ]
        if len(matches) != 1:
            raise ValueError(f"patch {patch['path']} matches {len(matches)} resources")
        documents[matches[0]] = deep_merge(documents[matches[0]], patch_doc)
    for replica in kustomization.get("replicas", []):
        for doc in documents:
            if doc["metadata"]["name"] == replica["name"] and "replicas" in doc.get("spec", {}):
                doc["spec"]["replicas"] = replica["count"]
    if "namespace" in kustomization:
        for doc in documents:
            doc["metadata"]["namespace"] = kustomization["namespace"]
    return documents


# --- Helm values -> Dagster instance config ------------------------------------------------

HELM_DIR = DEPLOY_DIR / "helm"


def helm_values(chart: str, env: str) -> dict:
    """values.yaml + values-<env>.yaml of one chart directory, layered the way Helm layers them."""
    import yaml

    def load(name: str) -> dict:
        return yaml.safe_load((HELM_DIR / chart / name).read_text()) or {}

    return deep_merge(load("values.yaml"), load(f"values-{env}.yaml"))


class HelmRenderError(ValueError):
    """What `helm template` would refuse (the chart's own `fail` checks)."""


def helm_instance_config(values: dict) -> dict:
    """The instance `dagster.yaml` sections the dagster/dagster chart renders from `values`, for
    the parts Finks sets: concurrency, run_coordinator, run_monitoring, run_retries.

    There is no helm binary here, so this transcribes the chart 1.13.27 templates
    (templates/configmap-instance.yaml, helpers/instance/_concurrency.tpl and _run-coordinator.tpl)
    for those keys only. Its output is meant for Dagster's own instance loader, which then judges
    it exactly as the daemon would at start-up. Chart defaults Finks does not set are left out.
    """
    concurrency = values.get("concurrency") or {}
    concurrency_on = bool(concurrency.get("enabled"))
    pools = concurrency.get("pools") or {}
    runs = concurrency.get("runs") or {}
    daemon = values.get("dagsterDaemon") or {}
    coordinator = daemon.get("runCoordinator") or {}
    queued = coordinator.get("type") == "QueuedRunCoordinator"
    qrc = ((coordinator.get("config") or {}).get("queuedRunCoordinator") or {}) if queued else {}

    if concurrency_on and coordinator.get("enabled") and queued:  # _concurrency.tpl's checks
        if runs.get("maxConcurrentRuns") is not None and qrc.get("maxConcurrentRuns") is not None:
            raise HelmRenderError("maxConcurrentRuns set in concurrency.runs and the run coordinator")
        if runs.get("tagConcurrencyLimits") and qrc.get("tagConcurrencyLimits"):
            raise HelmRenderError("tagConcurrencyLimits set in concurrency.runs and the coordinator")

    instance: dict = {}
    if daemon.get("enabled") and coordinator.get("enabled") and queued:
        config: dict = {}
        maximum = qrc.get("maxConcurrentRuns")
        if not concurrency_on or maximum is not None:  # unset means "no limit" (-1)
            config["max_concurrent_runs"] = -1 if maximum is None else maximum
        if qrc.get("tagConcurrencyLimits"):
            config["tag_concurrency_limits"] = qrc["tagConcurrencyLimits"]
        for camel, snake in (
            ("dequeueIntervalSeconds", "dequeue_interval_seconds"),
            ("dequeueUseThreads", "dequeue_use_threads"),
            ("dequeueNumWorkers", "dequeue_num_workers"),
        ):
            if qrc.get(camel):
                config[snake] = qrc[camel]
        instance["run_coordinator"] = {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
        }
        if any(qrc.values()):  # the template renders `config:` only when something is set
            instance["run_coordinator"]["config"] = config

    if concurrency_on:
        rendered: dict = {}
        pool_keys = (("defaultLimit", "default_limit"), ("granularity", "granularity"),
                     ("opGranularityRunBuffer", "op_granularity_run_buffer"))
        if rendered_pools := {s: pools[c] for c, s in pool_keys if pools.get(c) is not None}:
            rendered["pools"] = rendered_pools
        rendered_runs: dict = {}
        if runs.get("maxConcurrentRuns") is not None:
            rendered_runs["max_concurrent_runs"] = runs["maxConcurrentRuns"]
        if runs.get("tagConcurrencyLimits"):
            rendered_runs["tag_concurrency_limits"] = runs["tagConcurrencyLimits"]
        if rendered_runs:
            rendered["runs"] = rendered_runs
        instance["concurrency"] = rendered

    monitoring = daemon.get("runMonitoring") or {}
    if daemon.get("enabled") and monitoring.get("enabled"):
        keys = (("startTimeoutSeconds", "start_timeout_seconds"),
                ("cancelTimeoutSeconds", "cancel_timeout_seconds"),
                ("maxResumeRunAttempts", "max_resume_run_attempts"),
                ("pollIntervalSeconds", "poll_interval_seconds"),
                ("freeSlotsAfterRunEndSeconds", "free_slots_after_run_end_seconds"))
        instance["run_monitoring"] = {
            "enabled": True,
            **{s: monitoring[c] for c, s in keys if monitoring.get(c) is not None},
        }

    retries = daemon.get("runRetries") or {}
    if daemon.get("enabled") and retries.get("enabled"):
        instance["run_retries"] = {"enabled": True}
        if retries.get("maxRetries"):
            instance["run_retries"]["max_retries"] = retries["maxRetries"]
        if retries.get("retryOnAssetOrOpFailure") is not None:
            instance["run_retries"]["retry_on_asset_or_op_failure"] = retries[
                "retryOnAssetOrOpFailure"
            ]
    return instance


def load_instance(instance_yaml: dict, home: Path):
    """A DagsterInstance built from `instance_yaml` (SQLite storage under `home`), through
    Dagster's own loader: invalid or conflicting settings raise DagsterInvalidConfigError."""
    import dagster as dg
    import yaml

    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance_yaml, sort_keys=False))
    return dg.DagsterInstance.from_config(str(home))
