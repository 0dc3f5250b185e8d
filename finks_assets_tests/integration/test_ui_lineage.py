"""The real UI in a real browser: `dagster dev` on a free port, driven by headless Chromium.

One test (dagster dev needs ~25-40 s to be ready): the lineage page draws bronze -> silver ->
staging -> intermediate -> gold, and the silver asset's Checks tab lists every quality check.
Screenshots are saved as artifacts (in FINKS_TEST_ARTIFACTS when set, else the test's tmp dir).
`dagster dev` and its children run in their own process group, which is ended afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from finks_assets.lib.dbt.project import DBT_PROJECT_DIR
from finks_assets.lib.quality.suite import BAR_CHECKS
from finks_assets_tests.browser import browser_page, chromium_path
from finks_assets_tests.support.processes import dagster_server, graphql

LOCATION_QUERY = (
    "{ workspaceOrError { ... on Workspace { locationEntries { name "
    "locationOrLoadError { __typename ... on PythonError { message } } } } } }"
)

pytestmark = pytest.mark.skipif(
    not (DBT_PROJECT_DIR / "target" / "manifest.json").exists(),
    reason="dbt manifest missing: run `make manifest` (make test does it first)",
)


def _location_state(port: int) -> str | None:
    entries = graphql(port, LOCATION_QUERY, timeout=5)["data"]["workspaceOrError"]["locationEntries"]
    loaded = entries[0]["locationOrLoadError"] if entries else None
    if loaded and loaded["__typename"] == "PythonError":
        raise AssertionError(f"code location failed to load: {loaded['message'][:500]}")
    return loaded["__typename"] if loaded else None


@pytest.fixture
def dagster_dev(tmp_path: Path) -> Iterator[int]:
    chromium_path()  # skip before paying for the server when there is no browser
    with dagster_server(
        "dagster", tmp_path, lambda port: _location_state(port) == "RepositoryLocation", 150
    ) as port:
        yield port


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
