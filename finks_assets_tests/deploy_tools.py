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
