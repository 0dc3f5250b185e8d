"""Regression tests for the data-API defects of issue 18 (items 3, 4, 5 and 6).

Each test builds a tiny gold warehouse with DuckDB directly (one table, a few rows) instead of
running the pipeline: what is under test is how the API reads, logs and fails, not gold itself.
Writers run in separate processes, as Dagster/dbt would (DuckDB locks are per process).
"""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from finks_api import cli
from finks_api.app import create_app
from finks_api.config import ApiConfig
from finks_api.keys import KeyStore

GOLD_DDL = """
create schema gold;
create table gold.fct_daily_bars (
    ticker varchar, trade_date date, open double, high double, low double, close double,
    volume bigint, vwap double, vendor_vwap double, bar_count integer, flagged_bars bigint,
    first_bar_ts timestamptz, last_bar_ts timestamptz, source varchar
);
"""


INSERT_BAR = ("insert into gold.fct_daily_bars values (?, ?::date, 1, 2, 0.5, 1.5, 100, 1.2, null, 390, 0, "
              "?::date + interval 14 hours, ?::date + interval 20 hours, 'synthetic')")


def make_warehouse(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(GOLD_DDL)
        con.executemany(INSERT_BAR, [[t, "2025-11-24", "2025-11-24", "2025-11-24"]
                                     for t in ("AAPL", "MSFT")])


@dataclass
class Api:
    client: TestClient
    config: ApiConfig
    key: str

    def get(self, path: str, **kwargs: object):
        return self.client.get(path, headers={"X-API-Key": self.key}, **kwargs)  # type: ignore[arg-type]


def config_for(tmp_path: Path, warehouse: Path) -> ApiConfig:
    return ApiConfig(warehouse_path=warehouse, key_store_path=tmp_path / "api" / "keys.json",
                     snapshot_dir=tmp_path / "api" / "snapshots", refresh_interval=0.0)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    warehouse = tmp_path / "warehouse.duckdb"
    make_warehouse(warehouse)
    config = config_for(tmp_path, warehouse)
    key = KeyStore(config.key_store_path).create(["prices:read", "portfolio:read"]).key
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        yield Api(client=client, config=config, key=key)


# --- item 3: a change that exists only in DuckDB's WAL --------------------------------------

# A writer that commits and then dies before any checkpoint: the change lives only in the .wal.
_DIE_AFTER_COMMIT = """
import duckdb, os, sys
con = duckdb.connect(sys.argv[1])
con.execute("set checkpoint_threshold = '1GB'")
con.execute(sys.argv[2], [sys.argv[3], *[sys.argv[4]] * 3])
os._exit(0)
"""


def test_a_change_committed_only_to_the_wal_is_served(api: Api) -> None:
    assert api.get("/v1/daily-bars").json()["count"] == 2
    warehouse = api.config.warehouse_path
    before = warehouse.stat()
    subprocess.run([sys.executable, "-c", _DIE_AFTER_COMMIT, str(warehouse), INSERT_BAR,
                    "NVDA", "2025-11-24"], check=True, timeout=60)
    after = warehouse.stat()
    wal = warehouse.with_name(warehouse.name + ".wal")
    assert wal.exists() and wal.stat().st_size > 0  # the premise: only the WAL changed
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)

    body = api.get("/v1/daily-bars").json()
    assert [row["ticker"] for row in body["data"]] == ["AAPL", "MSFT", "NVDA"]


# --- item 4: access-log injection -----------------------------------------------------------

FORGED = "key_id=forged method=GET path=/v1/daily-bars status=200 latency_ms=1.00"


@pytest.mark.parametrize("separator", ["%0a", "%0d", "%0d%0a", "%1b[2K%0d", "%e2%80%a8", "%c2%85"])
def test_a_path_cannot_forge_an_access_log_line(
    api: Api, separator: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="finks_api.access"):
        response = api.client.get(f"/healthz{separator}{FORGED.replace(' ', '%20')}")
    assert response.status_code == 404
    [record] = [r for r in caplog.records if r.name == "finks_api.access"]
    line = record.getMessage()
    assert len(line.splitlines()) == 1, line  # str.splitlines also splits on U+2028, U+0085
    assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in line), line
    fields = [token.split("=", 1) for token in line.split(" ")]
    assert [name for name, _ in fields] == ["key_id", "method", "path", "status", "latency_ms"]
    assert dict(fields)["status"] == "404" and dict(fields)["path"].startswith("/healthz%")


def test_the_access_log_still_shows_plain_paths_as_they_are(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="finks_api.access"):
        api.get("/v1/daily-bars/AAPL")
    [line] = [r.getMessage() for r in caplog.records if r.name == "finks_api.access"]
    assert " path=/v1/daily-bars/AAPL status=200 " in line


# --- item 5: a key store of the wrong shape -------------------------------------------------

WELL_FORMED_KEY = "fk_" + "a" * 12 + "_" + "b" * 43
MALFORMED_STORES = [
    "[]",
    "null",
    '"keys"',
    "{}",
    '{"keys": {}}',
    '{"keys": [1]}',
    '{"keys": [{"key_id": "aaaaaaaaaaaa"}]}',  # a record missing fields
    '{"keys": [{"key_id": "aaaaaaaaaaaa", "key_sha256": "00", "scopes": "prices:read", '
    '"created_at": "2025-01-01T00:00:00+00:00"}]}',  # scopes: a string, not a list
    '{"keys": [{"key_id": 7, "key_sha256": "00", "scopes": [], "created_at": "x"}]}',
]


@pytest.mark.parametrize("content", MALFORMED_STORES)
def test_a_malformed_key_store_answers_503_with_a_clear_log_line(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    make_warehouse(warehouse)
    config = config_for(tmp_path, warehouse)
    config.key_store_path.parent.mkdir(parents=True)
    config.key_store_path.write_text(content)
    with TestClient(create_app(config), raise_server_exceptions=False) as client, \
            caplog.at_level(logging.INFO):
        response = client.get("/v1/daily-bars", headers={"X-API-Key": WELL_FORMED_KEY})
        assert client.get("/healthz").status_code == 200
    assert response.status_code == 503, response.text
    assert response.json() == {"detail": "API key store unavailable"}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and all(r.exc_info is None for r in errors)  # a line, not a traceback
    assert any("malformed" in r.getMessage() for r in errors), [r.getMessage() for r in errors]


@pytest.mark.parametrize("content", MALFORMED_STORES)
def test_keys_list_reports_a_malformed_store_and_exits_non_zero(
    tmp_path: Path, content: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FINKS_DATA_DIR", str(tmp_path / "finks"))
    monkeypatch.setenv("FINKS_UNIVERSE", "AAPL")
    store = tmp_path / "finks" / "api" / "keys.json"
    store.parent.mkdir(parents=True)
    store.write_text(content)
    assert cli.main(["keys", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("finks-api: ") and "malformed" in err and "Traceback" not in err
    assert cli.main(["keys", "create", "--scope", "prices:read"]) == 2
    assert store.read_text() == content  # never "repaired" by overwriting the operator's file


# --- item 6: a warehouse path that is a directory; strict dates -----------------------------

def test_a_warehouse_path_that_is_a_directory_is_a_503_without_the_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.mkdir()
    config = config_for(tmp_path, warehouse)
    key = KeyStore(config.key_store_path).create(["prices:read"]).key
    with TestClient(create_app(config), raise_server_exceptions=False) as client, \
            caplog.at_level(logging.WARNING, logger="finks_api"):
        data = client.get("/v1/daily-bars", headers={"X-API-Key": key})
        ready = client.get("/readyz")
    assert data.status_code == 503, data.text
    assert ready.status_code == 503, ready.text
    assert "make demo" in data.json()["detail"]
    for body in (data.text, ready.text):
        assert str(tmp_path) not in body  # the server's layout stays in the server's log
    assert any("not a regular file" in r.getMessage() for r in caplog.records)


def _cursor(values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "value",
    ["0", "1764547200", "-1", "1764547200.5", "20251124", "2025-W48-1", "2025-328",
     "2025-11-24T00:00:00", "2025-11-24 ", " 2025-11-24", "2025-11-24Z", "２０２５-11-24"],
)
@pytest.mark.parametrize("name", ["start", "end"])
def test_dates_must_be_yyyy_mm_dd(api: Api, name: str, value: str) -> None:
    response = api.get("/v1/daily-bars", params={name: value})
    assert response.status_code == 422, (value, response.status_code, response.text)


@pytest.mark.parametrize("value", ["20251124", "2025-W48-1", "2025-11-24T00:00:00"])
def test_cursor_dates_must_be_yyyy_mm_dd(api: Api, value: str) -> None:
    response = api.get("/v1/daily-bars", params={"cursor": _cursor(["AAPL", value])})
    assert response.status_code == 422, (value, response.status_code, response.text)


def test_iso_dates_still_filter(api: Api) -> None:
    assert api.get("/v1/daily-bars", params={"start": "2025-11-24", "end": "2025-11-24"}
                   ).json()["count"] == 2
    assert api.get("/v1/daily-bars", params={"start": "2025-11-25"}).json()["count"] == 0
