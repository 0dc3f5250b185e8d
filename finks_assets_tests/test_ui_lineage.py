"""The real UI in a real browser: `dagster dev` on a free port, driven by headless Chromium.

One test (dagster dev needs ~25-40 s to be ready): the lineage page draws bronze -> silver ->
staging -> intermediate -> gold, and the silver asset's Checks tab lists every quality check.
Screenshots are saved as artifacts (in FINKS_TEST_ARTIFACTS when set, else the test's tmp dir).
`dagster dev` and its children run in their own process group, which is ended afterwards.
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
from collections.abc import Iterator
from pathlib import Path

import pytest

from finks_assets.assets.gold import DBT_PROJECT_DIR
from finks_assets.checks.suite import BAR_CHECKS
from finks_assets_tests.browser import browser_page, chromium_path

REPO = Path(__file__).resolve().parents[1]
LOCATION_QUERY = (
    "{ workspaceOrError { ... on Workspace { locationEntries { name "
    "locationOrLoadError { __typename ... on PythonError { message } } } } } }"
)

pytestmark = pytest.mark.skipif(
    not (DBT_PROJECT_DIR / "target" / "manifest.json").exists(),
    reason="dbt manifest missing: run `make manifest` (make test does it first)",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _location_state(port: int) -> str | None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": LOCATION_QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        entries = json.loads(response.read())["data"]["workspaceOrError"]["locationEntries"]
    loaded = entries[0]["locationOrLoadError"] if entries else None
    if loaded and loaded["__typename"] == "PythonError":
        raise AssertionError(f"code location failed to load: {loaded['message'][:500]}")
    return loaded["__typename"] if loaded else None


@pytest.fixture
def dagster_dev(tmp_path: Path) -> Iterator[int]:
    chromium_path()  # skip before paying for the server when there is no browser
    port = _free_port()
    home = tmp_path / "dagster_home"
    home.mkdir()
    venv_bin = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",  # as in an active venv
        "DAGSTER_HOME": str(home),
        "FINKS_DATA_DIR": str(tmp_path / "finks"),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    proc = subprocess.Popen(
        [str(venv_bin / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1",
         "-p", str(port)],
        cwd=REPO, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"dagster dev exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                if _location_state(port) == "RepositoryLocation":
                    break
            except (OSError, KeyError, TypeError, ValueError):
                pass
            time.sleep(1)
        else:
            raise AssertionError("dagster dev did not load the code location within 150 s")
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _artifacts(tmp_path: Path) -> Path:
    target = Path(os.environ.get("FINKS_TEST_ARTIFACTS") or tmp_path / "artifacts")
    target.mkdir(parents=True, exist_ok=True)
    return target


def test_lineage_and_checks_are_visible_in_the_ui(dagster_dev: int, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{dagster_dev}"
    artifacts = _artifacts(tmp_path)
    with browser_page(width=1800, height=1000) as page:
        page.goto(f"{base}/assets/gold/daily_portfolio_summary?view=lineage"
                  "&lineageScope=upstream&lineageDepth=10", wait_until="networkidle")
        skip = page.get_by_role("button", name="Skip")  # first-visit community dialog
        if skip.count():
            skip.click()
        page.get_by_text("fct_daily_bars", exact=True).first.wait_for(timeout=30_000)
        graph = page.inner_text("body")
        for group in ("bronze", "silver", "staging", "intermediate", "gold"):
            assert group in graph.split("\n"), group
        assert graph.count("bars_1m") >= 2  # bronze/bars_1m and silver/bars_1m
        page.screenshot(path=str(artifacts / "lineage.png"))

        page.goto(f"{base}/assets/silver/bars_1m?view=checks", wait_until="networkidle")
        page.get_by_text("ohlc_invariants").first.wait_for(timeout=30_000)
        checks_page = page.inner_text("body")
        for check in BAR_CHECKS:
            assert check.name in checks_page, check.name
        assert "freshness_check" in checks_page
        assert "This is a blocking asset check." in checks_page  # first check is blocking
        page.screenshot(path=str(artifacts / "silver_checks.png"))
    assert (artifacts / "lineage.png").stat().st_size > 10_000
    assert (artifacts / "silver_checks.png").stat().st_size > 10_000
