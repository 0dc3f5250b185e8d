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
    run_tool,
    zizmor,
)
from finks_assets_tests.unit.test_deploy_image import python_policy

WORKFLOWS = sorted(WORKFLOWS_DIR.glob("*.yml"))
DEPENDABOT = REPO_ROOT / ".github" / "dependabot.yml"
MAKEFILE = REPO_ROOT / "Makefile"
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
    # zizmor audits dependabot.yml too (e.g. a cooldown before proposing fresh releases).
    result = zizmor(*WORKFLOWS, DEPENDABOT, "--persona", persona)
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
    assert ".ci/run" in runs  # .ci/run = make install-test + make test
    assert "ruff check" in runs
    assert "state:modified+" in runs and "--defer" in runs and "--state ../prod-manifest" in runs
    assert any("docker/build-push-action" in step.get("uses", "") for _, step in all_steps(ci))
    # Issue 13: `dg check defs` passes in CI, after the manifest it loads has been parsed.
    defs_steps = [step.get("run", "") for step in ci["jobs"]["definitions"]["steps"]]
    check = next(i for i, run in enumerate(defs_steps) if re.search(r"\bdg check defs\b", run))
    assert any("make manifest" in run for run in defs_steps[:check])
    ci_run = (REPO_ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make install-test$", ci_run, re.MULTILINE)
    assert re.search(r"^make test$", ci_run, re.MULTILINE)


def test_one_lock_everywhere() -> None:
    """the Makefile, .ci/run, CI and the image all install from uv.lock, frozen."""
    makefile = MAKEFILE.read_text()
    assert re.search(r"^UV_SYNC = \$\(UV\) sync --frozen ", makefile, re.MULTILINE)
    installs = re.findall(r"^\t(.*(?:pip install|uv sync|UV_SYNC).*)$", makefile, re.MULTILINE)
    # The only pip installs are those that bootstrap uv itself when it is not on PATH.
    pip_installs = [line for line in installs if "pip install" in line]
    assert pip_installs, "uv is bootstrapped from PyPI when missing"
    assert all(line.count("pip install") == line.count('"uv>=0.8,<1"') for line in pip_installs)
    assert all("$(UV_SYNC)" in line for line in installs if "pip install" not in line)
    # make demo installs the runtime set only; make test adds the test group.
    assert re.search(r"^\$\(BIN\)/\.installed:.*uv\.lock", makefile, re.MULTILINE)
    assert "$(UV_SYNC) --no-default-groups" in makefile
    assert re.search(r"^test: manifest \$\(BIN\)/\.test-installed$", makefile, re.MULTILINE)
    assert "$(UV_SYNC) --no-default-groups --group test" in makefile
    assert not (REPO_ROOT / "requirements.lock").exists(), "uv.lock is the only lock"
    ci = workflow("ci.yml")
    runs = "\n".join(step.get("run", "") for _, step in all_steps(ci))
    assert "pip install" not in runs, "CI installs through the Makefile (uv.lock) only"
    assert "make lint" in runs and "make lock-check" in runs
    lint = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert lint and "deptry finks_assets finks_api" in lint.group(1)


def test_ci_compares_the_image_with_the_runtime_set() -> None:
    steps = workflow("ci.yml")["jobs"]["docker-build"]["steps"]
    build = next(i for i, s in enumerate(steps) if "build-push-action" in s.get("uses", ""))
    compare = next(i for i, s in enumerate(steps) if "image_packages.py" in s.get("run", ""))
    assert compare > build
    run = steps[compare]["run"]
    assert "make -s runtime-requirements" in run and "finks:ci python" in run
    target = re.search(r"^runtime-requirements:.*\n\t(.*)$", MAKEFILE.read_text(), re.MULTILINE)
    assert target and "export --frozen --no-dev" in target.group(1)


def test_ci_tests_the_lowest_and_highest_python() -> None:
    lowest, highest = python_policy()
    ci = workflow("ci.yml")
    assert ci["jobs"]["test"]["strategy"]["matrix"]["python-version"] == [lowest, highest]
    for job_id, job in ci["jobs"].items():
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/setup-python@"):
                version = step["with"]["python-version"]
                assert version in (highest, "${{ matrix.python-version }}"), f"{job_id}: {version}"
                # The Makefile must use that interpreter, not whatever python3.x is on PATH.
                assert job.get("env", {}).get("PYTHON") == "python", job_id


def test_dependabot_covers_actions_the_lock_and_the_image() -> None:
    result = run_tool("check-jsonschema", "--builtin-schema", "vendor.dependabot", DEPENDABOT)
    assert result.ok, result.output
    config = yaml.safe_load(DEPENDABOT.read_text())
    ecosystems = {update["package-ecosystem"] for update in config["updates"]}
    assert {"github-actions", "uv", "docker"} <= ecosystems
    uv = next(u for u in config["updates"] if u["package-ecosystem"] == "uv")
    ignored = {i["dependency-name"]: i.get("versions") for i in uv.get("ignore", [])}
    assert ignored.get("dbt-core") == [">=1.12"]


def test_broken_dependabot_config_fails_the_schema(tmp_path: Path) -> None:
    broken = tmp_path / "dependabot.yml"
    broken.write_text("version: 2\nupdates:\n  - package-ecosystem: uv\n    directory: /\n")
    result = run_tool("check-jsonschema", "--builtin-schema", "vendor.dependabot", broken)
    assert not result.ok  # no schedule
    assert "schedule" in result.output


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
