"""Servers the tests start: free loopback ports, readiness polling, process-group shutdown.

Every server runs in its own session (``start_new_session=True``) so that ending its process
group also ends the children it spawns (``dagster dev`` starts a webserver, a daemon and a
code server; ``weed server`` several components).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def server_tmpdir() -> Iterator[str]:
    """A TMPDIR for a ``dagster dev``/webserver process group, removed once the group is gone.

    ``dagster dev`` writes a temporary workspace file and its code servers' gRPC sockets to
    the temp directory and leaves them there when it is stopped. A short path of its own
    (not the test's folder): a unix socket's path must stay under ~100 bytes.
    """
    path = tempfile.mkdtemp(prefix="finks-dg-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def stop_group(process: subprocess.Popen, grace_s: float = 20) -> None:
    """SIGTERM the process group, then SIGKILL it if it has not exited within ``grace_s``."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def graphql(port: int, query: str, timeout: float = 10) -> dict:
    """POST ``query`` to a Dagster webserver's GraphQL endpoint on loopback."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


@contextmanager
def dagster_server(
    executable: str, tmp_path: Path, ready: Callable[[int], bool], timeout_s: float
) -> Iterator[int]:
    """Run ``dagster dev`` or ``dagster-webserver`` on workspace.yaml; yield its port once
    ``ready(port)`` is true (a connection error or a partial answer means "not yet")."""
    port = free_port()
    home = tmp_path / "dagster_home"
    home.mkdir()
    with server_tmpdir() as scratch:
        env = {
            **os.environ,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # as in an active venv
            "DAGSTER_HOME": str(home),
            "FINKS_DATA_DIR": str(tmp_path / "finks"),
            "DAGSTER_DISABLE_TELEMETRY": "1",
            "TMPDIR": scratch,
        }
        process = subprocess.Popen(
            [str(VENV_BIN / executable), *(["dev"] if executable == "dagster" else []),
             "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO, env=env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                if process.poll() is not None:
                    raise AssertionError(
                        f"{executable} exited: {process.stderr.read().decode()[-2000:]}")
                try:
                    if ready(port):
                        break
                except (OSError, KeyError, TypeError, ValueError):
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{executable} was not ready within {timeout_s:.0f} s")
                time.sleep(1)
            yield port
        finally:
            stop_group(process)
