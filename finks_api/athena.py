"""Gold through Athena (``FINKS_ENV=aws``): the tables dbt-athena builds in the Glue database.

Same contract as the DuckDB reader (see ``readers.py``); what differs:

* **SQL.** Statements are built from the constant dataset definitions and column names from
  the Glue catalog (checked by ``datasets._quoted``); every value from a request travels in
  ``ExecutionParameters``. Athena takes a parameter as a SQL literal, so strings are bound as
  quoted literals (already validated against the ticker/portfolio patterns) and dates as ISO
  text behind ``cast(? as date)``. Athena accepts ``?`` only in ``WHERE``, so ``LIMIT`` is the
  constant ``MAX_PAGE_SIZE + 1`` and the reader stops fetching after ``limit + 1`` rows: no
  request value is ever part of the query text.
* **Columns** come from Glue (``GetTable``), which also says whether a table exists (404), and
  are cached for ``SCHEMA_TTL`` seconds. Result values arrive as strings and are typed with the
  result set's column metadata (``_convert``); timestamps are UTC (gold's convention).
* **Failures.** FAILED/CANCELLED queries and AWS errors become :class:`GoldQueryFailed` (502);
  throttling, unreachable endpoints, missing credentials and queries running past
  ``query_timeout`` (stopped, then reported) become ``WarehouseUnavailable`` (503). Clients get
  a fixed message; the log gets the query id, the error code and Athena's reason, never keys.
* **Clients** are built lazily, each from a fresh ``boto3.session.Session()`` (the default
  session caches the credential chain's answer, see ``LakeResource.s3_client``); botocore
  clients are thread-safe, so requests share them. A credentials error drops them, so the next
  request resolves the chain again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import json
import logging
import math
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
from botocore.config import Config

from finks_api import datasets
from finks_api.config import MAX_PAGE_SIZE, AthenaConfig
from finks_api.datasets import Dataset, DatasetMissing, Page, PageRequest
from finks_api.readers import GoldQueryFailed
from finks_api.snapshot import WarehouseUnavailable

log = logging.getLogger(__name__)

ROW_CAP = MAX_PAGE_SIZE + 1  # the constant LIMIT of every page query (see module docstring)
SCHEMA_TTL = 60.0  # seconds a table's Glue column list is reused
RESULTS_PAGE = 1000  # get_query_results' maximum page size
THROTTLED = {"ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"}
FAILED_MESSAGE = "gold query failed"
# Bounded calls: a request fails in seconds when AWS is unreachable instead of hanging a
# worker thread; "standard" retries back off on throttling and transient errors.
CLIENT_CONFIG = Config(
    connect_timeout=5, read_timeout=20, retries={"mode": "standard", "max_attempts": 3}
)


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # Athena's type name, lower case: varchar, bigint, date, decimal, ...
    precision: int = 0
    scale: int = 0


def parameter(value: object) -> str:
    """One ExecutionParameters entry: the SQL literal Athena substitutes for a ``?``."""
    if isinstance(value, bool):
        raise TypeError("booleans are not bound by the API")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return f"'{value.isoformat()}'"  # the SQL side reads it as cast(? as date)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"cannot bind a {type(value).__name__}")


def _timestamp(text: str, with_zone: bool) -> dt.datetime:
    """``2025-11-24 14:30:00.000`` (UTC by gold's convention) or ``... UTC`` / ``... +01:00``."""
    zone: dt.tzinfo = dt.UTC
    if with_zone:
        text, _, name = text.rpartition(" ")
        if name[:1] in "+-":
            return dt.datetime.fromisoformat(f"{text}{name}").astimezone(dt.UTC)
        zone = dt.UTC if name == "UTC" else ZoneInfo(name)
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(dt.UTC)


def _convert(text: str | None, column: Column) -> object:
    """A typed Python value from Athena's text form of one cell (``None`` for SQL NULL)."""
    if text is None:
        return None
    kind = column.type
    if kind in ("tinyint", "smallint", "integer", "int", "bigint"):
        return int(text)
    if kind in ("double", "float", "real"):
        return float(text)  # accepts NaN / Infinity, as Athena writes them
    if kind == "decimal":
        return decimal.Decimal(text)
    if kind == "boolean":
        return text == "true"
    if kind == "date":
        return dt.date.fromisoformat(text)
    if kind.startswith("timestamp"):
        return _timestamp(text, with_zone="with time zone" in kind)
    return text  # varchar, char, json, and nested types as Athena renders them


def _arrow_type(column: Column) -> pa.DataType:
    kind = column.type
    simple = {
        "tinyint": pa.int8(),
        "smallint": pa.int16(),
        "integer": pa.int32(),
        "int": pa.int32(),
        "bigint": pa.int64(),
        "double": pa.float64(),
        "float": pa.float32(),
        "real": pa.float32(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
    }
    if kind in simple:
        return simple[kind]
    if kind == "decimal":
        return pa.decimal128(column.precision or 38, column.scale)
    if kind.startswith("timestamp"):
        return pa.timestamp("us", tz="UTC")
    return pa.string()


def _json_value(value: object, json_text: bool) -> object:
    """The JSON form the DuckDB reader produces: ISO dates, ``...Z`` timestamps, finite numbers."""
    if value is None:
        return None
    if json_text and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else None
    return value


def page_sql(
    dataset: Dataset, database: str, columns: Sequence[str], request: PageRequest
) -> tuple[str, list[object]]:
    """The Athena statement for a page (at most ROW_CAP rows) and its parameter values."""
    where, params = datasets.filters(dataset, request, date_placeholder="cast(? as date)")
    quoted = datasets._quoted  # noqa: SLF001 - the one identifier check, shared with DuckDB
    sql = (
        f"select {', '.join(map(quoted, columns))} "  # noqa: S608 - constant/catalog identifiers only
        f"from {quoted(database)}.{quoted(dataset.table)} "
        f"{'where ' + ' and '.join(where) + ' ' if where else ''}"
        f"order by {', '.join(map(quoted, dataset.key))} limit {ROW_CAP}"
    )
    return sql, params


def freshness_sql(database: str, tables: Sequence[tuple[str, bool]]) -> str:
    """One statement for every table: (position, latest trade_date, row count) per table.

    Rows are matched back by position, so table names appear only as checked identifiers.
    """
    quoted = datasets._quoted  # noqa: SLF001
    parts = []
    for i, (name, has_date) in enumerate(tables):
        latest = f"max({quoted('trade_date')})" if has_date else "cast(null as date)"
        source = f"{quoted(database)}.{quoted(name)}"
        select = f"select {i} as position, {latest} as latest, count(*) as row_count"
        parts.append(f"{select} from {source}")  # noqa: S608 - identifiers checked by _quoted
    return " union all ".join(parts)


class AthenaReader:
    """Runs the API's queries on Athena and shapes the answers like the DuckDB reader's."""

    def __init__(self, config: AthenaConfig) -> None:
        self.config = config
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._schemas: dict[str, tuple[float, list[str]]] = {}

    # --- clients and errors -------------------------------------------------------------------

    def _client(self, service: str) -> Any:
        with self._clients_lock:
            if service not in self._clients:
                import boto3

                self._clients[service] = boto3.session.Session().client(
                    service,
                    region_name=self.config.region,
                    endpoint_url=self.config.endpoint_url,
                    config=CLIENT_CONFIG,
                )
            return self._clients[service]

    @contextlib.contextmanager
    def _aws(self, action: str, *, missing: str | None = None) -> Iterator[None]:
        """Turn botocore errors into the errors the app maps (404 for ``missing``, 502, 503)."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            yield
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "unknown"))
            if missing is not None and code == "EntityNotFoundException":
                raise DatasetMissing(missing) from None
            log.warning("athena reader: %s failed with %s", action, code)
            if code in THROTTLED:
                raise WarehouseUnavailable("the gold backend is busy; retry later") from None
            raise GoldQueryFailed(FAILED_MESSAGE) from None
        except BotoCoreError as exc:
            log.warning("athena reader: %s failed: %s", action, type(exc).__name__)
            if isinstance(exc, NoCredentialsError):
                with self._clients_lock:
                    self._clients.clear()
            raise WarehouseUnavailable("the gold backend is not reachable") from None

    # --- queries ------------------------------------------------------------------------------

    def query(
        self, sql: str, params: Sequence[object] = (), *, max_rows: int | None = None
    ) -> tuple[list[Column], list[list[object]]]:
        """Run one statement; its columns and at most ``max_rows`` typed rows."""
        athena = self._client("athena")
        request: dict[str, Any] = {
            "QueryString": sql,
            "QueryExecutionContext": {
                "Catalog": "AwsDataCatalog",
                "Database": self.config.database,
            },
            "WorkGroup": self.config.workgroup,
            "ResultConfiguration": {"OutputLocation": self.config.output_location},
        }
        if params:
            request["ExecutionParameters"] = [parameter(p) for p in params]
        with self._aws("StartQueryExecution"):
            query_id = athena.start_query_execution(**request)["QueryExecutionId"]
        self._wait(athena, query_id)
        return self._results(athena, query_id, max_rows)

    def _wait(self, athena: Any, query_id: str) -> None:
        """Poll with exponential backoff until the query ends or ``query_timeout`` passes."""
        deadline = time.monotonic() + self.config.query_timeout
        delay = self.config.first_poll
        while True:
            with self._aws("GetQueryExecution"):
                status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"][
                    "Status"
                ]
            state = status.get("State")
            if state == "SUCCEEDED":
                return
            if state in ("FAILED", "CANCELLED"):
                reason = str(status.get("StateChangeReason", ""))[:500]
                log.warning("athena query %s %s: %s", query_id, state, reason)
                raise GoldQueryFailed(FAILED_MESSAGE)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.warning(
                    "athena query %s still %s after %.0f s; stopping it",
                    query_id,
                    state,
                    self.config.query_timeout,
                )
                with (
                    contextlib.suppress(GoldQueryFailed, WarehouseUnavailable),
                    self._aws("StopQueryExecution"),
                ):
                    athena.stop_query_execution(QueryExecutionId=query_id)
                raise WarehouseUnavailable("the gold query timed out; retry later")
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, self.config.max_poll)

    def _results(
        self, athena: Any, query_id: str, max_rows: int | None
    ) -> tuple[list[Column], list[list[object]]]:
        columns: list[Column] = []
        rows: list[list[object]] = []
        token: str | None = None
        first = True
        while True:
            kwargs: dict[str, Any] = {"QueryExecutionId": query_id, "MaxResults": RESULTS_PAGE}
            if token:
                kwargs["NextToken"] = token
            with self._aws("GetQueryResults"):
                answer = athena.get_query_results(**kwargs)
            result = answer["ResultSet"]
            if first:
                columns = [
                    Column(
                        c["Name"],
                        c["Type"].lower(),
                        int(c.get("Precision") or 0),
                        int(c.get("Scale") or 0),
                    )
                    for c in result["ResultSetMetadata"]["ColumnInfo"]
                ]
            raw = [
                [cell.get("VarCharValue") for cell in row.get("Data", [])] for row in result["Rows"]
            ]
            if first and raw and raw[0] == [c.name for c in columns]:
                raw = raw[1:]  # a SELECT's first result row repeats the column names
            first = False
            for values in raw:
                if len(values) != len(columns):
                    log.warning(
                        "athena query %s: a row has %d cells for %d columns",
                        query_id,
                        len(values),
                        len(columns),
                    )
                    raise GoldQueryFailed(FAILED_MESSAGE)
                try:
                    rows.append([_convert(v, c) for v, c in zip(values, columns, strict=True)])
                except (ValueError, KeyError, ArithmeticError) as exc:  # bad number/date/zone
                    log.warning("athena query %s: unreadable value (%s)", query_id, exc)
                    raise GoldQueryFailed(FAILED_MESSAGE) from None
            token = answer.get("NextToken")
            if not token or (max_rows is not None and len(rows) >= max_rows):
                return columns, rows[:max_rows] if max_rows is not None else rows

    # --- the GoldReader contract --------------------------------------------------------------

    def open(self) -> None:
        """Nothing to prepare: clients are built on first use, so a missing role fails a
        request (503) rather than the process."""

    def close(self) -> None:
        with self._clients_lock:
            self._clients.clear()

    def table_columns(self, table: str) -> list[str]:
        """The table's columns (partition keys last) from Glue; DatasetMissing if absent."""
        cached = self._schemas.get(table)
        if cached is not None and time.monotonic() - cached[0] < SCHEMA_TTL:
            return cached[1]
        with self._aws("GetTable", missing=f"gold.{table} is not in this warehouse yet"):
            answer = self._client("glue").get_table(DatabaseName=self.config.database, Name=table)[
                "Table"
            ]
        descriptor = answer.get("StorageDescriptor", {})
        names = [
            c["Name"] for c in [*descriptor.get("Columns", []), *answer.get("PartitionKeys", [])]
        ]
        self._schemas[table] = (time.monotonic(), names)
        return names

    def page(self, dataset: Dataset, request: PageRequest, *, as_arrow: bool) -> Page:
        available = self.table_columns(dataset.table)
        columns = list(dataset.columns or available)
        missing = [c for c in (*columns, *dataset.key) if c not in available]
        if missing:
            raise DatasetMissing(f"gold.{dataset.table} has no column {', '.join(missing)}")
        sql, params = page_sql(dataset, self.config.database, columns, request)
        described, rows = self.query(sql, params, max_rows=request.limit + 1)
        more = len(rows) > request.limit
        rows = rows[: request.limit]
        by_name = {c.name: i for i, c in enumerate(described)}
        if set(by_name) != set(columns):
            log.warning("athena answered columns %s for %s", sorted(by_name), dataset.table)
            raise GoldQueryFailed(FAILED_MESSAGE)
        order = [by_name[c] for c in columns]
        last = [rows[-1][by_name[k]] for k in dataset.key] if more else None
        cursor = datasets.encode_cursor(last) if last is not None else None
        if as_arrow:
            try:
                arrays = [
                    pa.array([row[i] for row in rows], type=_arrow_type(described[i]))
                    for i in order
                ]
            except pa.ArrowException as exc:  # e.g. a decimal wider than its declared precision
                log.warning("athena answer for %s does not fit its types (%s)", dataset.table, exc)
                raise GoldQueryFailed(FAILED_MESSAGE) from None
            return Page(json_rows=None, table=pa.table(arrays, names=columns), next_cursor=cursor)
        json_rows = [
            json.dumps(
                {
                    c: _json_value(row[i], c in dataset.json_text_columns)
                    for c, i in zip(columns, order, strict=True)
                },
                separators=(",", ":"),
            )
            for row in rows
        ]
        return Page(json_rows=json_rows, table=None, next_cursor=cursor)

    def freshness(self) -> dict[str, object]:
        """Latest trade_date and row count per gold table: one Glue listing, one Athena query."""
        glue = self._client("glue")
        tables: list[tuple[str, bool]] = []
        with self._aws("GetTables"):
            for page in glue.get_paginator("get_tables").paginate(
                DatabaseName=self.config.database
            ):
                for table in page.get("TableList", []):
                    name = table["Name"]
                    if datasets._IDENTIFIER.fullmatch(name):  # noqa: SLF001 - shared identifier rule
                        columns = [
                            *table.get("StorageDescriptor", {}).get("Columns", []),
                            *table.get("PartitionKeys", []),
                        ]
                        tables.append((name, any(c["Name"] == "trade_date" for c in columns)))
        tables.sort()
        taken_at = dt.datetime.now(dt.UTC)
        out: list[dict[str, object]] = []
        if tables:
            _, rows = self.query(freshness_sql(self.config.database, tables))
            found = {row[0]: row for row in rows}
            for i, (name, _) in enumerate(tables):
                if i in found:
                    out.append(
                        {"table": name, "latest_trade_date": found[i][1], "rows": found[i][2]}
                    )
        # No single modification time exists for a Glue database; see models.Freshness.
        return {"snapshot_taken_at": taken_at, "warehouse_modified_at": None, "tables": out}

    def check_ready(self) -> None:
        """Glue has the gold database and the workgroup is enabled; runs no query (no cost)."""
        try:
            with self._aws("GetDatabase"):
                self._client("glue").get_database(Name=self.config.database)
            with self._aws("GetWorkGroup"):
                group = self._client("athena").get_work_group(WorkGroup=self.config.workgroup)
        except GoldQueryFailed as exc:
            raise WarehouseUnavailable(
                "the gold database or the Athena workgroup is not available"
            ) from exc
        state = group.get("WorkGroup", {}).get("State")
        if state != "ENABLED":
            raise WarehouseUnavailable(f"the Athena workgroup is {state or 'unknown'}")
