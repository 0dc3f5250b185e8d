"""schemathesis with every check (`--checks all`) against the app in-process, bounded in time.

0 server errors and 0 schema violations other than the documented exceptions below.
The app runs in this process under uvicorn on a loopback port (real HTTP; schemathesis' checks
re-send requests, which its in-process ASGI client does not support for every check); its
lifespan runs once for the module, as in ``finks-api serve``. Gold is built
from dbt's model contracts (``finks_dbt/models/marts/**/_*__models.yml``: the column names and
``data_type`` dbt enforces), a few rows per table, one of them with every column the response
models allow to be null set to null; so responses are checked against the types dbt really
builds, without running the pipeline (the endpoint tests do that). A key holding every scope
is sent, so the fuzzer gets past auth into parameter parsing and SQL; ``ignored_auth``
re-sends without it.

Documented exceptions (checks that are not run, each with its reason):

* ``positive_data_acceptance`` -- it expects every schema-valid request to succeed, but the
  schema cannot say everything the API validates: a ticker must also match the shared ticker
  pattern, a cursor must be one the API issued, ``start`` must not be after ``end``, a
  portfolio id has its own pattern. Those answer 422 by design (README, Errors).
* ``use_after_free`` / ``ensure_resource_availability`` -- stateful checks for APIs that
  create and delete resources; this API is read-only, they have nothing to test.

Bounded: at most ``MAX_EXAMPLES`` generated cases per operation, the examples/coverage/
fuzzing phases, no shrinking of a failure beyond Hypothesis' defaults, well under 60 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import hypothesis
import pytest
import schemathesis
import yaml
from schemathesis.checks import CHECKS, load_all_checks

from finks_api import datasets, models
from finks_api.app import create_app
from finks_api.config import ApiConfig
from finks_api.keys import KeyStore
from finks_assets.lib.dbt.project import DBT_PROJECT_DIR
from finks_assets_tests.api_support import live_server

MAX_EXAMPLES = 25
NOT_APPLICABLE = {"positive_data_acceptance", "use_after_free", "ensure_resource_availability"}
load_all_checks()
ALL_CHECKS = [check for check in CHECKS.get_all() if check.__name__ not in NOT_APPLICABLE]

# The OpenAPI document does not depend on the warehouse: it comes from an app never started.
_SPEC_ONLY = ApiConfig(Path("/nonexistent/warehouse.duckdb"), Path("/nonexistent/keys.json"),
                       Path("/nonexistent/snapshots"))
SCHEMA = schemathesis.openapi.from_dict(create_app(_SPEC_ONLY).openapi())


RESPONSE_MODELS = {datasets.DAILY_BARS.table: models.DailyBar,
                   datasets.DAILY_FEATURES.table: models.DailyFeature,
                   datasets.PORTFOLIO_SUMMARY.table: models.PortfolioDay,
                   datasets.TICKERS.table: None}  # dim_tickers: any column may be null
TICKERS = ("AAPL", "BRK.B", "MSFT")
DAYS = ("2025-11-24", "2025-11-25", "2025-11-26")


def contracts() -> dict[str, list[tuple[str, str]]]:
    """(column, data_type) per API table, from the dbt model yml files."""
    found: dict[str, list[tuple[str, str]]] = {}
    for path in sorted((DBT_PROJECT_DIR / "models" / "marts").rglob("_*__models.yml")):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            if model["name"] in RESPONSE_MODELS:
                found[model["name"]] = [(c["name"], c["data_type"]) for c in model["columns"]]
    assert set(found) == set(RESPONSE_MODELS), found.keys()
    return found


def _value(column: str, data_type: str, entity: str, day: str) -> object:
    if column in ("ticker", "portfolio_id"):
        return entity
    if column == "weights":
        return '{"AAPL": 0.6, "MSFT": 0.4}'
    return {"varchar": f"{column}-{entity}", "date": day, "double": 1.25, "bigint": 100,
            "integer": 7, "boolean": True,
            "timestamp with time zone": f"{day} 14:30:00+00"}[data_type.lower()]


def contract_warehouse(path: Path) -> None:
    """gold.<table> per contract; the last entity's rows have every nullable column null."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema gold")
        for table, columns in contracts().items():
            ddl = ", ".join(f'"{name}" {data_type}' for name, data_type in columns)
            con.execute(f"create table gold.{table} ({ddl})")  # names from our own yml
            model = RESPONSE_MODELS[table]
            nullable = {name for name, field in model.model_fields.items()
                        if not field.is_required() or "None" in str(field.annotation)
                        } if model else {c for c, _ in columns} - {"ticker"}
            entities = ("balanced", "growth", "income") if table.startswith("daily_portfolio") \
                else TICKERS
            days = DAYS if any(c == "trade_date" for c, _ in columns) else DAYS[:1]
            for entity in entities:
                for day in days:
                    row = [None if entity == entities[-1] and name in nullable
                           else _value(name, data_type, entity, day) for name, data_type in columns]
                    marks = ", ".join("?" * len(row))
                    con.execute(f"insert into gold.{table} values ({marks})", row)  # noqa: S608


@dataclass
class Served:
    url: str
    key: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("fuzz")
    contract_warehouse(root / "warehouse.duckdb")
    config = ApiConfig(root / "warehouse.duckdb", root / "api" / "keys.json",
                       root / "api" / "snapshots", refresh_interval=60.0)
    key = KeyStore(config.key_store_path).create(["prices:read", "portfolio:read"]).key
    with live_server(config) as live:  # uvicorn in a thread, with the app's lifespan
        yield Served(url=live.url, key=key)


def test_every_check_is_run_except_the_documented_ones() -> None:
    names = {check.__name__ for check in ALL_CHECKS}
    assert {"not_a_server_error", "status_code_conformance", "content_type_conformance",
            "response_schema_conformance", "response_headers_conformance",
            "negative_data_rejection", "ignored_auth", "unsupported_method"} <= names
    assert not names & NOT_APPLICABLE


@SCHEMA.parametrize()
@hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_fuzzing_finds_no_server_error_and_no_schema_violation(
    case: schemathesis.Case, served: Served
) -> None:
    case.call_and_validate(base_url=served.url,
                           headers={"X-API-Key": served.key}, checks=ALL_CHECKS)
