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
    """The checker installed next to this interpreter (the dev extra), never a stray global one."""
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed: pip install -e '.[dev]'")
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
