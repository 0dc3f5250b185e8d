"""FINKS_ENV=aws: the data API reading gold through its Athena reader (``finks_api/athena.py``).

Athena cannot run offline, so it is EMULATED: moto's server mode (``ThreadedMotoServer`` on
loopback, real HTTP, real boto3 clients built by the app) stands in for Athena and Glue. moto
records each StartQueryExecution (query text, ExecutionParameters, workgroup, output location),
walks it QUEUED -> RUNNING -> SUCCEEDED, and answers GetQueryResults with rows preset through
its ``/moto-api/static/athena/query-results`` endpoint; the Glue database and tables are real
moto Glue objects, created here as dbt-athena would leave them.

What this proves: the app in aws mode sends every request value as an ExecutionParameter and
none in the SQL text, rejects bad input before any query, types Athena's string results from
the result-set metadata into the same JSON/CSV/Parquet shapes as the DuckDB backend, pages by
cursor, maps failed/slow/erroring queries to 502/503 without internals, and keeps auth.

What it does NOT prove: moto neither parses nor runs SQL, so the rows here are the ones preset,
not ones the statement selected. That Athena accepts these statements (double-quoted
identifiers, ``cast(? as date)``, string parameters as quoted literals, ``?`` in WHERE only),
that the filters/seek/order select the right rows, and the exact text Athena renders for each
type (taken from the AWS docs) were not exercised against the real service; nor were IAM,
result reuse, cost, or latency.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import logging
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from finks_api.app import create_app
from finks_api.athena import ROW_CAP, parameter
from finks_api.config import ApiConfig
from finks_api.keys import KeyStore
from finks_assets.lib.settings import FinksSettings
from finks_assets_tests.moto_support import moto_server

REGION = "us-east-1"
WORKGROUP = "finks-api-test"
RESULTS_URI = "s3://finks-athena-results-test/api/"
GOLD_DATABASE = "finks_test_gold"  # FINKS_GOLD_GLUE_DATABASE: the stack's gold Glue database
KEY_ID, SECRET = "AKIAMOTOTESTKEY00001", "moto-secret-Zq81xW"  # fake; never in a response or log
INJECTION = "' OR 1=1--"


def _post(endpoint: str, path: str, body: dict) -> None:
    request = urllib.request.Request(
        endpoint + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback moto
        assert answer.status in (200, 201)


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_server(REGION, key_id=KEY_ID, secret=SECRET) as endpoint:
        yield endpoint


def col(name: str, kind: str, precision: int = 0, scale: int = 0) -> dict:
    return {
        "CatalogName": "hive",
        "SchemaName": "",
        "TableName": "",
        "Name": name,
        "Label": name,
        "Type": kind,
        "Precision": precision,
        "Scale": scale,
        "Nullable": "UNKNOWN",
        "CaseSensitive": kind == "varchar",
    }


BARS_COLUMNS = [
    col("ticker", "varchar"),
    col("open", "double"),
    col("high", "double"),
    col("low", "double"),
    col("close", "double"),
    col("volume", "bigint"),
    col("vwap", "double"),
    col("vendor_vwap", "double"),
    col("bar_count", "integer"),
    col("flagged_bars", "bigint"),
    col("first_bar_ts", "timestamp", 3),
    col("last_bar_ts", "timestamp", 3),
    col("source", "varchar"),
    col("trade_date", "date"),
]
PORTFOLIO_COLUMNS = [
    col("portfolio_id", "varchar"),
    col("market_value", "double"),
    col("daily_pnl", "double"),
    col("daily_return", "double"),
    col("holdings_count", "integer"),
    col("weights", "varchar"),
    col("trade_date", "date"),
]


def bar(day: str, vwap: str | None = "101.25") -> list[str | None]:
    return [
        "AAPL",
        "100.5",
        "102.0",
        "99.75",
        "101.5",
        "123456789012",
        vwap,
        None,
        "390",
        "0",
        f"{day} 14:30:00.000",
        f"{day} 20:59:00.000",
        "synthetic",
        day,
    ]


@dataclasses.dataclass
class Aws:
    endpoint: str
    client: TestClient
    keys: dict[str, str]

    def preset(self, columns: list[dict], rows: list[list[str | None]]) -> None:
        """The next query's result, with the header row a real SELECT's first page starts with."""
        header = [{"VarCharValue": c["Name"]} for c in columns]
        data = [{"Data": header}] + [
            {"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in rows
        ]
        _post(
            self.endpoint,
            "/moto-api/static/athena/query-results",
            {"region": REGION, "results": [{"rows": data, "column_info": columns}]},
        )

    def athena(self):
        return boto3.client("athena", region_name=REGION, endpoint_url=self.endpoint)

    def executions(self) -> list[dict]:
        """What moto recorded for every query the app started, oldest first."""
        athena = self.athena()
        ids = athena.list_query_executions(WorkGroup=WORKGROUP)["QueryExecutionIds"]
        found = [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ids]
        return sorted(found, key=lambda e: e["Status"]["SubmissionDateTime"])

    def get(self, path: str, key: str | None = "all", **kwargs: object):
        headers = dict(kwargs.pop("headers", {}) or {})  # type: ignore[call-overload]
        if key:
            headers["X-API-Key"] = self.keys[key]
        return self.client.get(path, headers=headers, **kwargs)  # type: ignore[arg-type]


def _gold_catalog(endpoint: str) -> None:
    """The Glue side dbt-athena leaves behind: the gold database, marts with trade_date last."""
    glue = boto3.client("glue", region_name=REGION, endpoint_url=endpoint)
    glue.create_database(DatabaseInput={"Name": GOLD_DATABASE})
    for table, columns in (
        ("fct_daily_bars", BARS_COLUMNS),
        ("daily_portfolio_summary", PORTFOLIO_COLUMNS),
    ):
        glue.create_table(
            DatabaseName=GOLD_DATABASE,
            TableInput={
                "Name": table,
                "StorageDescriptor": {
                    "Columns": [{"Name": c["Name"], "Type": c["Type"]} for c in columns[:-1]],
                    "Location": f"s3://finks-gold-test/gold/{GOLD_DATABASE}/{table}/",
                },
                "PartitionKeys": [{"Name": "trade_date", "Type": "date"}],
            },
        )
    boto3.client("athena", region_name=REGION, endpoint_url=endpoint).create_work_group(
        Name=WORKGROUP, Configuration={}
    )


@pytest.fixture(scope="module")
def app_config(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> ApiConfig:
    settings = FinksSettings.from_env(
        {
            "FINKS_ENV": "aws",
            "FINKS_DATA_DIR": str(tmp_path_factory.mktemp("aws") / "finks"),
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_REGION": REGION,
            "FINKS_GOLD_BUCKET": "finks-gold-test",
            "FINKS_GOLD_GLUE_DATABASE": GOLD_DATABASE,
            "FINKS_ATHENA_WORKGROUP": WORKGROUP,
            "FINKS_ATHENA_RESULTS_URI": RESULTS_URI,
        }
    )
    config = ApiConfig.from_settings(settings)
    assert config.athena is not None
    return dataclasses.replace(config, athena=dataclasses.replace(config.athena, query_timeout=1.0))


@pytest.fixture
def aws(moto_endpoint: str, app_config: ApiConfig) -> Iterator[Aws]:
    _post(moto_endpoint, "/moto-api/reset", {})  # fresh Athena/Glue state per test
    _gold_catalog(moto_endpoint)
    store = KeyStore(app_config.key_store_path)
    keys = {
        "all": store.create(["prices:read", "portfolio:read"]).key,
        "prices": store.create(["prices:read"]).key,
    }
    with TestClient(create_app(app_config)) as client:
        yield Aws(endpoint=moto_endpoint, client=client, keys=keys)


def test_config_picks_athena_only_in_aws_mode(tmp_path: Path) -> None:
    local = FinksSettings.from_env({"FINKS_DATA_DIR": str(tmp_path)})
    assert ApiConfig.from_settings(local).athena is None
    aws = ApiConfig.from_settings(
        FinksSettings.from_env(
            {"FINKS_ENV": "aws", "FINKS_DATA_DIR": str(tmp_path), "FINKS_GOLD_BUCKET": "gold-b"}
        )
    )
    assert aws.athena is not None
    assert (aws.athena.workgroup, aws.athena.output_location, aws.athena.database) == (
        "primary",
        "s3://gold-b/athena-results/",
        "finks_gold",  # default: <FINKS_GLUE_DATABASE>_gold
    )
    staging = FinksSettings.from_env(
        {"FINKS_ENV": "aws", "FINKS_DATA_DIR": str(tmp_path), "FINKS_GLUE_DATABASE": "finks_staging"}
    )
    assert ApiConfig.from_settings(staging).athena.database == "finks_staging_gold"  # type: ignore[union-attr]
    assert parameter("O'Brien") == "'O''Brien'" and parameter(5) == "5"


def test_daily_bars_are_typed_paged_and_bound_as_parameters(aws: Aws) -> None:
    aws.preset(BARS_COLUMNS, [bar("2025-11-24", vwap=None), bar("2025-11-25"), bar("2025-11-26")])
    first = aws.get("/v1/daily-bars/AAPL", params={"start": "2025-11-24", "limit": 2})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["count"] == 2 and [r["trade_date"] for r in body["data"]] == [
        "2025-11-24",
        "2025-11-25",
    ]
    row = body["data"][0]
    assert list(row) == [
        "ticker",
        "trade_date",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "vwap",
        "vendor_vwap",
        "bar_count",
        "flagged_bars",
        "first_bar_ts",
        "last_bar_ts",
        "source",
    ]  # API order
    assert row["open"] == 100.5 and isinstance(row["volume"], int) and row["volume"] == 123456789012
    assert row["vwap"] is None and row["bar_count"] == 390
    assert row["first_bar_ts"] == "2025-11-24T14:30:00Z" and row["source"] == "synthetic"
    cursor = body["next_cursor"]
    assert json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))) == [
        "AAPL",
        "2025-11-25",
    ]
    assert first.headers["X-Next-Cursor"] == cursor

    aws.preset(BARS_COLUMNS, [bar("2025-11-26")])
    last = aws.get(
        "/v1/daily-bars/AAPL", params={"start": "2025-11-24", "limit": 2, "cursor": cursor}
    )
    assert last.json()["count"] == 1 and last.json()["next_cursor"] is None

    one, two = aws.executions()
    for execution in (one, two):
        sql = execution["Query"]
        assert "AAPL" not in sql and "2025-11" not in sql  # values only as parameters
        assert sql.startswith('select "ticker", "trade_date", "open"') and f"limit {ROW_CAP}" in sql
        assert f'from "{GOLD_DATABASE}"."fct_daily_bars"' in sql and '"trade_date" >= cast(? as date)' in sql
        assert execution["WorkGroup"] == WORKGROUP
        assert execution["ResultConfiguration"]["OutputLocation"].startswith(RESULTS_URI)
        assert execution["QueryExecutionContext"]["Database"] == GOLD_DATABASE
    assert one["ExecutionParameters"] == ["'AAPL'", "'2025-11-24'"]
    # seek after (AAPL, 2025-11-25): (ticker > ?) or (ticker = ? and trade_date > ?)
    assert two["ExecutionParameters"] == [
        "'AAPL'",
        "'2025-11-24'",
        "'AAPL'",
        "'AAPL'",
        "'2025-11-25'",
    ]
    assert two["Query"].count("?") == 5


def test_parquet_and_csv_carry_athena_types(aws: Aws) -> None:
    aws.preset(BARS_COLUMNS, [bar("2025-11-24"), bar("2025-11-25", vwap=None)])
    answer = aws.get("/v1/daily-bars", params={"tickers": "AAPL", "format": "parquet"})
    assert (
        answer.status_code == 200
        and answer.headers["content-type"] == "application/vnd.apache.parquet"
    )
    table = pq.read_table(io.BytesIO(answer.content))
    assert table.num_rows == 2
    assert table.schema.field("trade_date").type == pa.date32()
    assert table.schema.field("volume").type == pa.int64()
    assert table.schema.field("bar_count").type == pa.int32()
    assert table.schema.field("open").type == pa.float64()
    assert table.schema.field("first_bar_ts").type == pa.timestamp("us", tz="UTC")
    assert table.column("vwap").to_pylist() == [101.25, None]

    aws.preset(BARS_COLUMNS, [bar("2025-11-24")])
    csv = aws.get("/v1/daily-bars", params={"tickers": "AAPL"}, headers={"Accept": "text/csv"})
    assert csv.status_code == 200 and csv.text.splitlines()[0].startswith('"ticker","trade_date"')


def test_portfolio_needs_its_scope_and_weights_become_an_object(aws: Aws) -> None:
    assert aws.get("/v1/portfolio-summary", key=None).status_code == 401
    assert aws.get("/v1/portfolio-summary", key="prices").status_code == 403
    assert aws.get("/v1/daily-bars/AAPL", key=None).status_code == 401
    assert aws.executions() == []  # auth runs before any query
    aws.preset(
        PORTFOLIO_COLUMNS,
        [["core", "1000.5", None, None, "2", '{"AAPL":0.6,"MSFT":0.4}', "2025-11-24"]],
    )
    body = aws.get("/v1/portfolio-summary", params={"portfolio_ids": "core"}).json()
    assert body["data"] == [
        {
            "portfolio_id": "core",
            "trade_date": "2025-11-24",
            "market_value": 1000.5,
            "daily_pnl": None,
            "daily_return": None,
            "holdings_count": 2,
            "weights": {"AAPL": 0.6, "MSFT": 0.4},
        }
    ]
    assert aws.executions()[0]["ExecutionParameters"] == ["'core'"]


@pytest.mark.parametrize(
    "path, params",
    [
        (f"/v1/daily-bars/{INJECTION}", {}),
        ("/v1/daily-bars", {"tickers": f"AAPL,{INJECTION}"}),
        ("/v1/daily-bars/..%2F..%2Fetc", {}),
        ("/v1/portfolio-summary", {"portfolio_ids": INJECTION}),
        ("/v1/daily-bars", {"start": "2025-13-01"}),
        ("/v1/daily-bars", {"start": "2025-11-28", "end": "2025-11-24"}),
        ("/v1/daily-bars", {"limit": 10**9}),
        (
            "/v1/daily-bars",
            {
                "cursor": base64.urlsafe_b64encode(json.dumps([INJECTION, "2025-11-24"]).encode())
                .decode()
                .rstrip("=")
            },
        ),
    ],
)
def test_bad_input_is_a_4xx_before_any_query(aws: Aws, path: str, params: dict) -> None:
    answer = aws.get(path, params=params)
    assert 400 <= answer.status_code < 500, answer.text
    assert aws.executions() == []


def test_failed_query_is_502_without_internals(aws: Aws, caplog: pytest.LogCaptureFixture) -> None:
    """moto cannot make a query fail, so the app's own client sees the FAILED status that
    Athena reports (an in-place edit of the parsed GetQueryExecution answer)."""
    reason = "HIVE_BAD_DATA: Error parsing field value in s3://finks-gold-test/gold/part-0.parquet"

    def fail(parsed: dict, **_: object) -> None:
        parsed["QueryExecution"]["Status"].update(State="FAILED", StateChangeReason=reason)

    aws.client.app.state.reader._client("athena").meta.events.register(  # type: ignore[attr-defined]
        "after-call.athena.GetQueryExecution", fail
    )
    with caplog.at_level(logging.INFO):
        answer = aws.get("/v1/daily-bars/AAPL")
    assert answer.status_code == 502 and answer.json() == {"detail": "gold query failed"}
    assert "HIVE" not in answer.text and "s3://" not in answer.text
    query_id = aws.executions()[0]["QueryExecutionId"]
    assert query_id in caplog.text and "FAILED" in caplog.text and reason in caplog.text
    assert SECRET not in caplog.text and KEY_ID not in caplog.text


def test_unreadable_result_value_is_502(aws: Aws) -> None:
    broken = bar("2025-11-24")
    broken[5] = "12x"  # volume is a bigint
    aws.preset(BARS_COLUMNS, [broken])
    answer = aws.get("/v1/daily-bars/AAPL")
    assert answer.status_code == 502 and answer.json() == {"detail": "gold query failed"}


def test_slow_query_is_stopped_and_503(aws: Aws) -> None:
    transition = {
        "model_name": "athena::execution",
        "transition": {"progression": "manual", "times": 10**6},
    }
    _post(aws.endpoint, "/moto-api/state-manager/set-transition", transition)
    try:
        answer = aws.get("/v1/daily-bars/AAPL")
    finally:
        _post(
            aws.endpoint,
            "/moto-api/state-manager/unset-transition",
            {"model_name": "athena::execution"},
        )
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    assert answer.json() == {"detail": "the gold query timed out; retry later"}
    assert aws.executions()[0]["Status"]["State"] == "CANCELLED"  # the reader stopped it


def test_aws_errors_missing_tables_and_readiness(aws: Aws) -> None:
    assert aws.client.get("/readyz").json() == {"status": "ready"}
    assert aws.get("/v1/daily-features").status_code == 404  # not in Glue (yet)
    aws.athena().delete_work_group(WorkGroup=WORKGROUP)
    rejected = aws.get("/v1/daily-bars/AAPL")  # moto: InvalidRequestException, no such workgroup
    assert rejected.status_code == 502 and rejected.json() == {"detail": "gold query failed"}
    not_ready = aws.client.get("/readyz")
    assert not_ready.status_code == 503 and SECRET not in not_ready.text


def test_freshness_from_glue_and_one_athena_query(aws: Aws) -> None:
    aws.preset(
        [col("position", "integer"), col("latest", "date"), col("row_count", "bigint")],
        [["0", "2025-11-28", "36"], ["1", "2025-11-28", "8"]],
    )
    body = aws.get("/v1/freshness", key="prices").json()
    assert body["tables"] == [
        {"table": "daily_portfolio_summary", "latest_trade_date": "2025-11-28", "rows": 36},
        {"table": "fct_daily_bars", "latest_trade_date": "2025-11-28", "rows": 8},
    ]
    assert body["warehouse_modified_at"] is None and body["snapshot_taken_at"]
    (execution,) = aws.executions()
    assert execution["Query"].count("union all") == 1 and "ExecutionParameters" not in execution
    assert f'from "{GOLD_DATABASE}"."fct_daily_bars"' in execution["Query"]


def test_unreachable_aws_is_503_not_500(app_config: ApiConfig) -> None:
    with socket.socket() as sock:  # a loopback port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    assert app_config.athena is not None
    config = dataclasses.replace(
        app_config, athena=dataclasses.replace(app_config.athena, endpoint_url=closed)
    )
    key = KeyStore(config.key_store_path).create(["prices:read"]).key
    with TestClient(create_app(config)) as client:
        answer = client.get("/v1/daily-bars/AAPL", headers={"X-API-Key": key})
        assert answer.status_code == 503
        assert answer.json() == {"detail": "the gold backend is not reachable"}
        assert client.get("/readyz").status_code == 503
