"""``dagster dev`` (webserver + daemon + code server) for tests that drive Dagster as the UI does.

Unlike :func:`finks_assets_tests.support.processes.dagster_server`, this one takes its own
workspace, instance home and environment, writes the servers' output to a log file (a long
backfill fills a pipe that nobody reads, and a blocked ``dagster dev`` looks like a hang), and
makes sure nothing of the process group outlives the test: the webserver, the daemon, the code
server and every run worker they launched (none of them starts a session of its own).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finks_assets_tests.support.processes import REPO, VENV_BIN, free_port, server_tmpdir

LOCATION_QUERY = """
{ workspaceOrError { ... on Workspace { locationEntries { name
    locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


# The caller's own Finks settings must not leak into the servers: ``env`` is the whole story.
ISOLATED_PREFIXES = ("FINKS_", "FMP_")


class GraphQLError(AssertionError):
    """The webserver answered with GraphQL errors (a malformed query or a server exception)."""


@dataclass
class DagsterDev:
    port: int
    log_path: Path

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None,
                timeout: float = 60) -> dict:
        """POST a query (with variables, as the UI's Apollo client does); return its ``data``."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/graphql",
            data=json.dumps({"query": query, "variables": dict(variables or {})}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
        if answer.get("errors"):
            raise GraphQLError(json.dumps(answer["errors"])[:2000])
        return answer["data"]

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the servers' combined output, for assertion messages."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-chars:]


def write_workspace(path: Path, module: str, location_name: str = "finks") -> Path:
    """A workspace.yaml loading ``module`` from the repository root."""
    path.write_text(
        "load_from:\n"
        "  - python_module:\n"
        f"      module_name: {module}\n"
        f"      working_directory: {REPO}\n"
        f"      location_name: {location_name}\n"
    )
    return path


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member exists but is not ours to signal: still alive
        return True
    return True


def end_group(process: subprocess.Popen, grace_s: float = 20) -> None:
    """SIGTERM the whole process group, then SIGKILL whatever of it is left after ``grace_s``
    (children that outlive the group leader included)."""
    if _group_alive(process.pid):
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    if _group_alive(process.pid):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@contextmanager
def dagster_dev(
    workspace: Path, dagster_home: Path, env: Mapping[str, str], timeout_s: float = 600
) -> Iterator[DagsterDev]:
    """Run ``dagster dev`` in its own process group; yield once its code location has loaded.

    The servers see the caller's environment minus its ``FINKS_*``/``FMP_*`` variables, plus
    ``env``. A location that fails to load fails the test at once with its error, instead of
    after the timeout.
    """
    port = free_port()
    log_path = dagster_home / "dagster_dev.log"
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(ISOLATED_PREFIXES)}
    with server_tmpdir() as scratch:
        full_env = {
            **inherited,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # as in an active venv
            "DAGSTER_HOME": str(dagster_home),
            "DAGSTER_DISABLE_TELEMETRY": "1",
            "TMPDIR": scratch,
            **env,
        }
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(VENV_BIN / "dagster"), "dev", "-w", str(workspace),
                 "-h", "127.0.0.1", "-p", str(port)],
                cwd=REPO, env=full_env, start_new_session=True,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        server = DagsterDev(port=port, log_path=log_path)
        try:
            deadline = time.monotonic() + timeout_s
            while not _location_loaded(server):
                if process.poll() is not None:
                    raise AssertionError(f"dagster dev exited:\n{server.log_tail()}")
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"dagster dev not ready within {timeout_s:.0f} s:\n{server.log_tail()}")
                time.sleep(1)
            yield server
        finally:
            end_group(process)


def _location_loaded(server: DagsterDev) -> bool:
    try:
        entries = server.graphql(LOCATION_QUERY, timeout=10)["workspaceOrError"]["locationEntries"]
    except (OSError, KeyError, TypeError, ValueError, GraphQLError):
        return False  # webserver not up yet
    states = [e["locationOrLoadError"] for e in entries]
    for state in states:
        if state and state["__typename"] == "PythonError":
            raise AssertionError(f"code location failed to load: {state['message'][:3000]}")
    return bool(states) and all(s and s["__typename"] == "RepositoryLocation" for s in states)
