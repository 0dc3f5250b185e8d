"""The real Dagster webserver loads the code location and serves the lineage graph.

It runs `dagster-webserver` against workspace.yaml in its own process group on a free
loopback port and asks its GraphQL API for the asset graph, the same data the UI draws.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from finks_assets.assets.gold import DBT_PROJECT_DIR

REPO = Path(__file__).resolve().parents[1]
QUERY = """
{ assetNodes { assetKey { path } groupName
    dependencyKeys { path }
    assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } }
"""

pytestmark = pytest.mark.skipif(
    not (DBT_PROJECT_DIR / "target" / "manifest.json").exists(),
    reason="dbt manifest missing: run `make manifest` (make test does it first)",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def webserver(tmp_path: Path):
    port = _free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "FINKS_DATA_DIR": str(tmp_path / "finks"),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    (tmp_path / "dagster_home").mkdir()
    webserver_bin = Path(sys.executable).parent / "dagster-webserver"
    proc = subprocess.Popen(
        [str(webserver_bin), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"webserver exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                nodes = _graphql(port, QUERY)["data"]["assetNodes"]
                if nodes:
                    break
            except (OSError, KeyError, TypeError):
                pass
            time.sleep(1)
        else:
            raise AssertionError("webserver did not serve the asset graph within 120 s")
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_lineage_graph_runs_bronze_to_every_gold_mart(webserver: int) -> None:
    nodes = _graphql(webserver, QUERY)["data"]["assetNodes"]
    deps = {"/".join(n["assetKey"]["path"]): {"/".join(d["path"]) for d in n["dependencyKeys"]}
            for n in nodes}
    assert deps["silver/bars_1m"] == {"bronze/bars_1m"}
    assert "silver/bars_1m" in deps["staging/stg_silver__bars_1m"]
    for mart in ("gold/fct_daily_bars", "gold/fct_daily_features", "gold/daily_portfolio_summary"):
        assert mart in deps

    def upstream(key: str) -> set[str]:
        seen, todo = set(), [key]
        while todo:
            for dep in deps.get(todo.pop(), ()):
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return seen

    assert "bronze/bars_1m" in upstream("gold/daily_portfolio_summary")
    checks = {c["name"]: c["blocking"] for n in nodes
              if "/".join(n["assetKey"]["path"]) == "silver/bars_1m"
              for c in n["assetChecksOrError"]["checks"]}
    assert checks["ohlc_invariants"] is True and checks["intraday_gaps"] is False
