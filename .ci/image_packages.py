"""Compare the packages installed in this interpreter with a requirements export of uv.lock.

ci.yml runs it inside the built image with `make runtime-requirements` (uv export of the runtime
set and the k8s extra, as the Dockerfile installs them) as the argument: the image must hold
exactly that set, at exactly those versions, so what
CI tests (the same lock) is what ships. Exit status 1 and a list of differences otherwise.

The export is universal (one line per package, with environment markers); markers are evaluated
for this interpreter, so a package locked only for another platform or Python is not expected.
Only the standard library and `packaging` (a runtime dependency) are used.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# The project itself (installed editable in the image, left out of the export with
# --no-emit-project); pip is absent from uv-made venvs but tolerated if a base image adds it.
NOT_LOCKED = {"finks", "pip"}


def expected_packages(export_text: str) -> dict[str, str]:
    """{name: version} for the pinned lines whose markers hold in this interpreter."""
    expected: dict[str, str] = {}
    for raw in export_text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate():
            continue
        pins = [spec.version for spec in req.specifier if spec.operator == "=="]
        if len(pins) != 1:
            raise ValueError(f"not an exact pin: {raw!r}")
        expected[canonicalize_name(req.name)] = pins[0]
    return expected


def installed_packages() -> dict[str, str]:
    """{name: version} of every distribution this interpreter can import."""
    return {
        canonicalize_name(dist.metadata["Name"]): dist.version for dist in metadata.distributions()
    }


def differences(expected: dict[str, str], installed: dict[str, str]) -> list[str]:
    """Human-readable differences; empty when the installed set is exactly the expected one."""
    problems = []
    for name in sorted(expected.keys() - installed.keys()):
        problems.append(f"missing: {name}=={expected[name]}")
    for name in sorted(installed.keys() - expected.keys() - NOT_LOCKED):
        problems.append(f"not in the runtime set: {name}=={installed[name]}")
    for name in sorted(expected.keys() & installed.keys()):
        if expected[name] != installed[name]:
            problems.append(f"version: {name} is {installed[name]}, uv.lock has {expected[name]}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: image_packages.py RUNTIME_REQUIREMENTS", file=sys.stderr)
        return 2
    expected = expected_packages(Path(argv[1]).read_text())
    problems = differences(expected, installed_packages())
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"the installed packages are exactly the runtime set of uv.lock ({len(expected)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
