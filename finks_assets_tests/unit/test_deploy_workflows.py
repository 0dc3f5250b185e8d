"""GitHub Actions workflows: schema-valid, zizmor-clean, and shaped the way the project promised.

check-jsonschema validates against the vendored GitHub workflow schema and zizmor audits the
security of the workflows (pinned actions, least-privilege tokens, template injection), both
offline. A deliberately broken workflow must fail each of them. actionlint is not used: its
PyPI wrapper downloads a binary at install time, which cannot work here.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from finks_assets_tests.deploy_tools import (
    DEPLOY_DIR,
    REPO_ROOT,
    WORKFLOWS_DIR,
    check_workflow_schema,
    zizmor,
)

WORKFLOWS = sorted(WORKFLOWS_DIR.glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
AWS_CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials@"

BROKEN_SCHEMA = """\
name: broken
on:
  pull_request:
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - name: a step with neither run nor uses
        with:
          foo: bar
"""

INSECURE = """\
name: insecure
on:
  pull_request_target:
permissions: write-all
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ github.event.pull_request.head.sha }}
      - run: echo "${{ github.event.pull_request.title }}"
"""


def workflow(name: str) -> dict:
    # PyYAML reads the key `on` as True (YAML 1.1); keep the file's text for that key.
    return yaml.safe_load((WORKFLOWS_DIR / name).read_text())


def all_steps(doc: dict) -> list[tuple[str, dict]]:
    return [(job_id, step) for job_id, job in doc["jobs"].items() for step in job.get("steps", [])]


def test_there_are_ci_and_deploy_workflows() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "deploy.yml"}


def test_workflows_match_the_github_schema() -> None:
    result = check_workflow_schema(*WORKFLOWS)
    assert result.ok, result.output


def test_broken_workflow_fails_the_schema(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN_SCHEMA)
    result = check_workflow_schema(broken)
    assert not result.ok
    assert "broken.yml" in result.output


@pytest.mark.parametrize("persona", ["regular", "pedantic"])
def test_workflows_pass_zizmor(persona: str) -> None:
    result = zizmor(*WORKFLOWS, "--persona", persona)
    assert result.ok, result.output


def test_insecure_workflow_fails_zizmor(tmp_path: Path) -> None:
    insecure = tmp_path / "insecure.yml"
    insecure.write_text(INSECURE)
    result = zizmor(insecure)
    assert not result.ok
    for audit in ("unpinned-uses", "template-injection", "dangerous-triggers", "artipacked"):
        assert audit in result.output, result.output


def test_every_action_is_pinned_to_a_commit_sha() -> None:
    for path in WORKFLOWS:
        for job_id, step in all_steps(yaml.safe_load(path.read_text())):
            if "uses" in step:
                assert PINNED.match(step["uses"]), f"{path.name}:{job_id} uses {step['uses']}"


def test_tokens_are_least_privilege() -> None:
    for path in WORKFLOWS:
        doc = yaml.safe_load(path.read_text())
        top = doc.get("permissions")
        assert top in ({}, {"contents": "read"}), f"{path.name}: top-level permissions {top!r}"
        for job_id, job in doc["jobs"].items():
            permissions = job.get("permissions", top)
            uses_aws = any(
                step.get("uses", "").startswith(AWS_CREDENTIALS_ACTION) for step in job["steps"]
            )
            # OIDC tokens only where an AWS role is assumed, and nothing writes repo contents.
            assert (permissions.get("id-token") == "write") == uses_aws, f"{path.name}:{job_id}"
            assert permissions.get("contents", "read") == "read", f"{path.name}:{job_id}"


def test_aws_access_is_oidc_only() -> None:
    for path in WORKFLOWS:
        text = path.read_text()
        assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text
        for _, step in all_steps(yaml.safe_load(text)):
            if step.get("uses", "").startswith(AWS_CREDENTIALS_ACTION):
                assert set(step["with"]) == {"role-to-assume", "aws-region"}


def test_ci_runs_the_test_suite_lint_slim_ci_and_a_docker_build() -> None:
    ci = workflow("ci.yml")
    runs = "\n".join(step.get("run", "") for _, step in all_steps(ci))
    assert ".ci/run" in runs  # .ci/run = make install + make test
    assert "ruff check" in runs
    assert "state:modified+" in runs and "--defer" in runs and "--state ../prod-manifest" in runs
    assert any("docker/build-push-action" in step.get("uses", "") for _, step in all_steps(ci))
    # Issue 13: `dg check defs` passes in CI, after the manifest it loads has been parsed.
    defs_steps = [step.get("run", "") for step in ci["jobs"]["definitions"]["steps"]]
    check = next(i for i, run in enumerate(defs_steps) if re.search(r"\bdg check defs\b", run))
    assert any("make manifest" in run for run in defs_steps[:check])
    assert re.search(r"^make test$", (REPO_ROOT / ".ci" / "run").read_text(), re.MULTILINE)


def test_deploy_goes_staging_then_manual_production() -> None:
    deploy = workflow("deploy.yml")
    jobs = deploy["jobs"]
    assert jobs["staging"]["environment"] == "staging"
    assert jobs["production"]["environment"] == "production"  # required reviewers = the gate
    assert "staging" in jobs["production"]["needs"]
    assert jobs["staging"]["needs"] == "image"
    assert deploy["concurrency"]["cancel-in-progress"] is False
    uploads = [s for _, s in all_steps(deploy) if "upload-artifact" in s.get("uses", "")]
    assert [s["with"]["name"] for s in uploads] == ["dbt-prod-manifest"]


def test_helm_deploy_script_is_valid_and_its_files_exist() -> None:
    script = DEPLOY_DIR / "ci" / "helm-deploy.sh"
    syntax = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    text = script.read_text()
    referenced = set(re.findall(r"deploy/[\w./$-]+", text.split("set -euo pipefail", 1)[1]))
    assert referenced, "the script should reference the values files and overlays"
    for env in ("staging", "prod"):
        for ref in referenced:
            path = REPO_ROOT / ref.replace("$FINKS_ENV_NAME", env).rstrip(".")
            assert path.exists(), f"{ref} -> {path} is missing"
