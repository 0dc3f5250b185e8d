"""The data API against a real gold warehouse built by the real pipeline (one week, 9 tickers).

FastAPI's TestClient drives the app in-process (with its lifespan); the warehouse is written by
separate processes, as Dagster/dbt would.
"""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import hypothesis
import pandas as pd
import pyarrow.parquet as pq
import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.checks import not_a_server_error

from finks_api.app import create_app
from finks_api.config import MAX_PAGE_SIZE, ApiConfig
from finks_api.keys import KEY_PATTERN, KeyStore
from finks_assets.lib.dbt.project import DBT_PROJECT_DIR
from finks_assets.lib.settings import FinksSettings
from finks_assets_tests.api_support import (
    LiveServer,
    build_gold,
    gold,
    live_server,
    write_warehouse,
)
from finks_assets_tests.conftest import SMALL_UNIVERSE

pytestmark = pytest.mark.skipif(
    not (DBT_PROJECT_DIR / "target" / "manifest.json").exists(),
    reason="dbt manifest missing: run `make manifest` (make test does it first)",
)

DATA_ENDPOINTS = ["/v1/daily-bars", "/v1/daily-bars/AAPL", "/v1/daily-features",
                  "/v1/portfolio-summary", "/v1/tickers", "/v1/freshness"]


@dataclass
class Api:
    client: TestClient
    settings: FinksSettings
    config: ApiConfig
    keys: dict[str, str]
    key_ids: dict[str, str]

    def get(self, path: str, key: str | None = "all", **kwargs: object):
        headers = dict(kwargs.pop("headers", {}) or {})  # type: ignore[arg-type]
        if key:
            headers["X-API-Key"] = self.keys[key]
        return self.client.get(path, headers=headers, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    settings = build_gold(tmp_path_factory.mktemp("api") / "finks")
    config = ApiConfig.from_settings(settings, refresh_interval=0.0)
    store = KeyStore(config.key_store_path)
    created = {
        "prices": store.create(["prices:read"]),
        "portfolio": store.create(["portfolio:read"]),
        "all": store.create(["prices:read", "portfolio:read"]),
        "revoked": store.create(["prices:read", "portfolio:read"]),
    }
    store.revoke(created["revoked"].record.key_id)
    with TestClient(create_app(config)) as client:
        yield Api(
            client=client, settings=settings, config=config,
            keys={name: c.key for name, c in created.items()},
            key_ids={name: c.record.key_id for name, c in created.items()},
        )


def expected_portfolio(api: Api) -> list[dict]:
    frame = gold(api.settings, "select * from gold.daily_portfolio_summary order by 1, 2")
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    for row in rows:
        row["trade_date"] = row["trade_date"].date().isoformat()
        row["weights"] = json.loads(row["weights"])
    return rows


# --- auth -----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", DATA_ENDPOINTS)
def test_data_endpoints_need_a_valid_active_key(api: Api, path: str) -> None:
    missing = api.get(path, key=None)
    assert missing.status_code == 401 and missing.json() == {"detail": "missing X-API-Key header"}
    assert "X-API-Key" in missing.headers["www-authenticate"]
    for name in ("revoked",):
        assert api.get(path, key=name).status_code == 401
    bogus = api.keys["all"][:-4] + "AAAA"
    for wrong in (bogus, "' OR 1=1--", "../../keys.json", "x" * 5000):
        response = api.client.get(path, headers={"X-API-Key": wrong})
        assert response.status_code == 401, wrong
        assert response.json() == {"detail": "invalid or revoked API key"}


def test_scopes_give_403_on_the_other_datasets(api: Api) -> None:
    assert api.get("/v1/portfolio-summary", key="prices").status_code == 403
    assert api.get("/v1/portfolio-summary", key="portfolio").status_code == 200
    for path in ("/v1/daily-bars", "/v1/daily-features", "/v1/daily-bars/AAPL"):
        assert api.get(path, key="portfolio").status_code == 403
        assert api.get(path, key="prices").status_code == 200
    assert "portfolio:read" in api.get("/v1/portfolio-summary", key="prices").json()["detail"]


def test_portfolio_summary_equals_the_gold_table(api: Api) -> None:
    expected = expected_portfolio(api)
    assert len(expected) == 8  # 2 portfolios x 4 sessions
    response = api.get("/v1/portfolio-summary", key="portfolio")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["next_cursor"] is None and body["count"] == len(expected)
    assert body["data"] == expected


def test_cursor_pages_walk_the_whole_table_once(api: Api) -> None:
    rows, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = api.get("/v1/portfolio-summary", params=params).json()
        rows += body["data"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and rows == expected_portfolio(api)


def test_daily_bars_filter_by_tickers_and_dates(api: Api) -> None:
    params = {"tickers": "MSFT,AAPL", "start": "2025-11-25", "end": "2025-11-26"}
    body = api.get("/v1/daily-bars", params=params).json()
    expected = gold(
        api.settings,
        "select ticker, trade_date::varchar as d, close, volume from gold.fct_daily_bars "
        "where ticker in ('AAPL', 'MSFT') and trade_date between '2025-11-25' and '2025-11-26' "
        "order by ticker, trade_date",
    )
    assert [(r["ticker"], r["trade_date"], r["close"], r["volume"]) for r in body["data"]] == list(
        expected.itertuples(index=False, name=None)
    )
    assert len(body["data"]) == 4
    one = api.get("/v1/daily-bars/AAPL", params={"start": "2025-11-25", "end": "2025-11-26"})
    assert one.json()["data"] == [r for r in body["data"] if r["ticker"] == "AAPL"]
    features = api.get("/v1/daily-features", params={"tickers": "NVDA"}).json()["data"]
    assert [r["trade_date"] for r in features] == ["2025-11-24", "2025-11-25", "2025-11-26", "2025-11-28"]
    assert features[0]["daily_return"] is None and features[1]["daily_return"] is not None


@pytest.mark.parametrize(("how", "fmt"), [("param", "csv"), ("param", "parquet"),
                                          ("accept", "csv"), ("accept", "parquet")])
def test_csv_and_parquet_hold_the_same_rows(api: Api, how: str, fmt: str) -> None:
    media = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}[fmt]
    kwargs = {"params": {"format": fmt}} if how == "param" else {"headers": {"Accept": media}}
    response = api.get("/v1/daily-bars", **kwargs)
    assert response.status_code == 200 and response.headers["content-type"].startswith(media)
    if fmt == "csv":
        served = pd.read_csv(io.StringIO(response.text))
    else:
        served = pq.read_table(io.BytesIO(response.content)).to_pandas()
    expected = gold(api.settings, "select * from gold.fct_daily_bars order by ticker, trade_date")
    assert len(served) == len(expected) == len(SMALL_UNIVERSE) * 4
    assert list(served["ticker"]) == list(expected["ticker"])
    assert served["close"].tolist() == expected["close"].tolist()
    assert served["volume"].tolist() == expected["volume"].tolist()


# --- input safety ---------------------------------------------------------------------------

INJECTIONS = ["' OR 1=1--", "AAPL' OR '1'='1", "AAPL;DROP TABLE gold.fct_daily_bars", "../x",
              "..%2F..%2Fetc", "%00", "\u00c4PPL", "a" * 3000]


def _cursor(values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


BAD_PARAMS: list[tuple[str, dict[str, object]]] = [
    *[("/v1/daily-bars", {"tickers": v}) for v in INJECTIONS],
    *[("/v1/daily-features", {"tickers": f"AAPL,{v}"}) for v in INJECTIONS],
    *[("/v1/tickers", {"tickers": v}) for v in INJECTIONS],
    *[("/v1/portfolio-summary", {"portfolio_ids": v}) for v in INJECTIONS if v != "\u00c4PPL"],
    ("/v1/daily-bars", {"tickers": ",".join(f"T{i}" for i in range(101))}),
    ("/v1/portfolio-summary", {"portfolio_ids": ","}),
    *[(p, {"start": v}) for p in ("/v1/daily-bars", "/v1/portfolio-summary")
      for v in ("2025-13-45", "yesterday", "' OR 1=1--", "2025-11-24' OR '1'='1", "-1", "99999-01-01")],
    *[(p, {"end": v}) for p in ("/v1/daily-features", "/v1/daily-bars/AAPL") for v in ("2025-02-30", "../")],
    ("/v1/daily-bars", {"start": "2025-11-28", "end": "2025-11-24"}),
    *[(p, {"limit": v}) for p in DATA_ENDPOINTS[:5]
      for v in (0, -1, MAX_PAGE_SIZE + 1, 10**30, "1 OR 1=1", "1e9", "")],
    *[(p, {"format": v}) for p in DATA_ENDPOINTS[:5] for v in ("xml", "../csv", "' OR 1=1--")],
    *[(p, {"cursor": v}) for p in DATA_ENDPOINTS[:4] for v in (
        "' OR 1=1--", "../../etc/passwd", "!!!", "x" * 600, _cursor(["AAPL' OR 1=1--", "2025-11-24"]),
        _cursor(["AAPL", "2025-11-24' OR '1'='1"]), _cursor(["AAPL"]), _cursor({"a": 1}),
        _cursor(["AAPL", "2025-11-24", "x"]), base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    )],
]


@pytest.mark.parametrize(("path", "params"), BAD_PARAMS)
def test_bad_and_hostile_parameters_get_a_4xx(api: Api, path: str, params: dict) -> None:
    response = api.get(path, params=params)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert "data" not in response.json()


@pytest.mark.parametrize("ticker", ["' OR 1=1--", "AAPL' OR '1'='1", "aapl", "A;DROP", "%27", "A" * 16])
def test_hostile_ticker_in_the_path_gets_a_4xx(api: Api, ticker: str) -> None:
    response = api.get(f"/v1/daily-bars/{ticker}")
    assert 400 <= response.status_code < 500, (response.status_code, response.text)


@pytest.mark.parametrize("path", ["/v1/daily-bars/../portfolio-summary", "/v1/daily-bars/..%2F..%2Fkeys",
                                  "/v1/daily-bars/AAPL/../../portfolio-summary"])
def test_path_traversal_never_reaches_another_dataset(api: Api, path: str) -> None:
    response = api.get(path, key="prices")
    assert response.status_code in (403, 404, 422), (response.status_code, response.text)


def test_hostile_values_never_return_extra_rows_or_change_gold(api: Api) -> None:
    before = gold(api.settings, "select count(*) as n from gold.fct_daily_bars")["n"][0]
    for value in INJECTIONS:
        api.get("/v1/daily-bars", params={"tickers": value})
        api.get("/v1/portfolio-summary", params={"portfolio_ids": value})
    # a valid-looking ticker that merely exists nowhere: an empty page, not everything
    empty = api.get("/v1/daily-bars", params={"tickers": "ZZZZ"}).json()
    assert empty == {"data": [], "count": 0, "next_cursor": None}
    assert gold(api.settings, "select count(*) as n from gold.fct_daily_bars")["n"][0] == before


# --- optional dataset, freshness, probes, logs ----------------------------------------------

def test_tickers_404_without_dim_tickers_then_served_once_it_lands(api: Api) -> None:
    kinds = gold(api.settings, "select table_type from information_schema.tables "
                 "where table_schema = 'gold' and table_name = 'dim_tickers'")
    if len(kinds):  # another model already builds it: take it away to test the absent case
        kind = "view" if kinds["table_type"][0] == "VIEW" else "table"
        write_warehouse(api.settings, f"drop {kind} gold.dim_tickers")
    missing = api.get("/v1/tickers")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "gold.dim_tickers is not in this warehouse yet"}

    write_warehouse(api.settings, "create table gold.dim_tickers as select distinct ticker, "
                    "'Synthetic ' || ticker as name from gold.fct_daily_bars")
    body = api.get("/v1/tickers", params={"limit": 4}).json()
    assert [r["ticker"] for r in body["data"]] == sorted(SMALL_UNIVERSE)[:4]
    assert body["data"][0]["name"] == f"Synthetic {sorted(SMALL_UNIVERSE)[0]}"
    rest = api.get("/v1/tickers", params={"cursor": body["next_cursor"], "tickers": "XOM,JNJ"}).json()
    assert [r["ticker"] for r in rest["data"]] == ["XOM"]  # JNJ sorts before the cursor


def test_freshness_reports_the_latest_trade_date_per_table(api: Api) -> None:
    body = api.get("/v1/freshness", key="prices").json()
    tables = {t["table"]: t for t in body["tables"]}
    for name in ("fct_daily_bars", "fct_daily_features", "daily_portfolio_summary"):
        assert tables[name]["latest_trade_date"] == "2025-11-28"
        assert tables[name]["rows"] == gold(api.settings, f"select count(*) n from gold.{name}")["n"][0]  # noqa: S608
    assert body["snapshot_taken_at"] >= body["warehouse_modified_at"][:19]


def test_probes(api: Api, tmp_path: Path) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").json() == {"status": "ready"}
    empty = ApiConfig(warehouse_path=tmp_path / "none.duckdb", key_store_path=api.config.key_store_path,
                      snapshot_dir=tmp_path / "snapshots")
    with TestClient(create_app(empty)) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503
        unavailable = client.get("/v1/daily-bars", headers={"X-API-Key": api.keys["all"]})
        assert unavailable.status_code == 503 and "make demo" in unavailable.json()["detail"]


def test_openapi_documents_versioned_routes_and_the_key_header(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    assert {"/v1/daily-bars", "/v1/portfolio-summary", "/v1/freshness", "/healthz"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    assert api.client.get("/docs").status_code == 200


def test_access_log_has_key_id_endpoint_status_latency_but_never_the_key(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="finks_api.access"):
        api.get("/v1/daily-bars", key="prices", params={"tickers": "AAPL"})
        api.get("/v1/portfolio-summary", key="prices")
        api.client.get("/v1/daily-bars", headers={"X-API-Key": api.keys["all"][:-1] + "Z"})
    lines = [r.getMessage() for r in caplog.records if r.name == "finks_api.access"]
    assert len(lines) == 3
    key_id = api.key_ids["prices"]
    assert lines[0].startswith(f"key_id={key_id} method=GET path=/v1/daily-bars status=200 latency_ms=")
    assert f"key_id={key_id}" in lines[1] and "status=403" in lines[1]
    assert "key_id=- " in lines[2] and "status=401" in lines[2]
    everything = caplog.text
    for key in api.keys.values():
        assert key not in everything and KEY_PATTERN.fullmatch(key)["secret"] not in everything


# --- fuzzing: schemathesis against the app's own OpenAPI document -----------------------------

# The document does not depend on the warehouse, so it is taken from an app that never starts.
_SPEC_ONLY = ApiConfig(Path("/nonexistent/warehouse.duckdb"), Path("/nonexistent/keys.json"),
                       Path("/nonexistent/snapshots"))
FUZZ_SCHEMA = schemathesis.openapi.from_dict(create_app(_SPEC_ONLY).openapi())


@pytest.fixture(scope="module")
def live(api: Api) -> Iterator[LiveServer]:
    with live_server(api.config) as server:
        yield server


@FUZZ_SCHEMA.parametrize()
@hypothesis.settings(max_examples=25, deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_fuzzing_finds_no_server_error(case: schemathesis.Case, live: LiveServer, api: Api) -> None:
    """Over real HTTP (uvicorn on loopback) with a key holding every scope, so the fuzzer gets
    past auth into parameter parsing and the SQL layer."""
    case.call_and_validate(base_url=live.url, headers={"X-API-Key": api.keys["all"]},
                           checks=[not_a_server_error])
