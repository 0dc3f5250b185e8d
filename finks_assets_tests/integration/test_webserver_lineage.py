"""The real Dagster webserver loads the code location and serves the lineage graph.

It runs `dagster-webserver` against workspace.yaml in its own process group on a free
loopback port and asks its GraphQL API for the asset graph, the same data the UI draws.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from finks_assets.lib.dbt.project import DBT_PROJECT_DIR
from finks_assets_tests.support.processes import dagster_server, graphql

QUERY = """
{ assetNodes { assetKey { path } groupName
    dependencyKeys { path }
    assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } }
"""

pytestmark = pytest.mark.skipif(
    not (DBT_PROJECT_DIR / "target" / "manifest.json").exists(),
    reason="dbt manifest missing: run `make manifest` (make test does it first)",
)


@pytest.fixture
def webserver(tmp_path: Path):
    with dagster_server(
        "dagster-webserver", tmp_path, lambda port: bool(graphql(port, QUERY)["data"]["assetNodes"]),
        120,
    ) as port:
        yield port


def test_lineage_graph_runs_bronze_to_every_gold_mart(webserver: int) -> None:
    nodes = graphql(webserver, QUERY)["data"]["assetNodes"]
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
