"""The gold tables the API serves, and the SQL for them (``athena.py`` has Athena's variant).

Every statement is assembled from the constant identifiers below (never from request data);
values from the request only ever travel as bound ``?`` parameters. Pagination is keyset
("seek") pagination on each table's primary key: the cursor carries the last key returned, so
page N costs the same as page 1 and a page never repeats or skips a row.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from finks_assets.lib.tickers import validate_ticker

PORTFOLIO_ID_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}$")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
GOLD_SCHEMA = "gold"


class InvalidParameter(ValueError):
    """A request parameter (cursor, portfolio id, ...) failed validation: a 422 for the client."""


class DatasetMissing(LookupError):
    """The table is not in this warehouse (yet), e.g. ``dim_tickers`` before its model lands."""


def validate_portfolio_id(value: object) -> str:
    if not isinstance(value, str) or not PORTFOLIO_ID_PATTERN.fullmatch(value):
        raise InvalidParameter(
            f"invalid portfolio id {value!r}: expected 1-64 characters matching "
            f"{PORTFOLIO_ID_PATTERN.pattern}"
        )
    return value


def parse_iso_date(value: object) -> dt.date:
    """A ``YYYY-MM-DD`` string as a date; anything else is an :class:`InvalidParameter`.

    Stricter than pydantic (which takes ``0`` or ``1764547200`` as Unix times) and than
    ``date.fromisoformat`` (which takes ``20251124`` and ``2025-W48-1``): the API documents
    one date format, and accepting others would make typos silently select other rows.
    """
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise InvalidParameter(f"invalid date {value!r}: expected YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidParameter(f"invalid date {value!r}: expected YYYY-MM-DD") from exc


def _validate_date(value: object) -> dt.date:
    if isinstance(value, dt.date):  # only strings come out of a cursor's JSON
        raise InvalidParameter(f"invalid date {value!r} in cursor")
    return parse_iso_date(value)


def _ticker(value: object) -> str:
    try:
        return validate_ticker(value)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from exc


DATE_COLUMNS = frozenset({"trade_date"})  # key/filter columns whose values are dates
KEY_VALIDATORS: dict[str, Callable[[object], object]] = {
    "ticker": _ticker,
    "portfolio_id": validate_portfolio_id,
    "trade_date": _validate_date,
}


@dataclass(frozen=True)
class Dataset:
    """One gold table exposed by the API."""

    table: str
    key: tuple[str, ...]  # order and cursor; key[0] is the entity filtered by ?tickers/?portfolio_ids
    columns: tuple[str, ...] | None  # None: every column the table has (dim_tickers)
    date_column: str | None = "trade_date"
    json_text_columns: tuple[str, ...] = ()  # JSON text, returned as objects in JSON responses

    @property
    def entity_column(self) -> str:
        return self.key[0]


DAILY_BARS = Dataset(
    table="fct_daily_bars",
    key=("ticker", "trade_date"),
    columns=(
        "ticker", "trade_date", "open", "high", "low", "close", "volume", "vwap", "vendor_vwap",
        "bar_count", "flagged_bars", "first_bar_ts", "last_bar_ts", "source",
    ),
)
# ?adjusted=true: the same bars back-adjusted for splits and dividends (fct_daily_bars_adjusted).
DAILY_BARS_ADJUSTED = Dataset(
    table="fct_daily_bars_adjusted",
    key=("ticker", "trade_date"),
    columns=(*DAILY_BARS.columns, "adjustment_factor"),
)
DAILY_FEATURES = Dataset(
    table="fct_daily_features",
    key=("ticker", "trade_date"),
    columns=(
        "ticker", "trade_date", "close", "daily_return", "return_5d", "return_20d",
        "realized_vol_20d",
    ),
)
PORTFOLIO_SUMMARY = Dataset(
    table="daily_portfolio_summary",
    key=("portfolio_id", "trade_date"),
    columns=(
        "portfolio_id", "trade_date", "market_value", "daily_pnl", "daily_return",
        "holdings_count", "weights",
    ),
    json_text_columns=("weights",),
)
TICKERS = Dataset(table="dim_tickers", key=("ticker",), columns=None, date_column=None)


def encode_cursor(values: Sequence[object]) -> str:
    text = json.dumps([v.isoformat() if isinstance(v, dt.date) else v for v in values])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(dataset: Dataset, cursor: str) -> list[object]:
    """The key values in a cursor, each re-validated as if the client had sent it directly."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode())
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise InvalidParameter("invalid cursor: pass back next_cursor unchanged") from exc
    if not isinstance(values, list) or len(values) != len(dataset.key):
        raise InvalidParameter("invalid cursor: pass back next_cursor unchanged")
    return [KEY_VALIDATORS[column](value) for column, value in zip(dataset.key, values, strict=True)]


@dataclass(frozen=True)
class Page:
    """A page as JSON text per row (built by DuckDB) or as an Arrow table (CSV/Parquet)."""

    json_rows: list[str] | None
    table: pa.Table | None
    next_cursor: str | None


Schema = list[tuple[str, str]]  # (column name, DuckDB type) in table order


def table_schema(cur: duckdb.DuckDBPyConnection, table: str) -> Schema:
    """The table's columns; empty when the table does not exist."""
    return cur.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [GOLD_SCHEMA, table],
    ).fetchall()


def _quoted(identifier: str) -> str:
    """Double-quote a column/table name that came from the catalog, after checking its shape."""
    if not _IDENTIFIER.fullmatch(identifier):
        raise DatasetMissing(f"unexpected column name {identifier!r} in the warehouse")
    return f'"{identifier}"'


def _json_expression(column: str, data_type: str, json_text: bool) -> str:
    """How one column appears in a JSON row: ISO dates, UTC timestamps, finite numbers."""
    col = _quoted(column)
    if json_text:
        return f"json({col})"
    if data_type == "DATE":
        return f"strftime({col}, '%Y-%m-%d')"
    if data_type == "TIMESTAMP WITH TIME ZONE":
        return f"strftime({col} at time zone 'UTC', '%Y-%m-%dT%H:%M:%SZ')"
    if data_type == "TIMESTAMP":
        return f"strftime({col}, '%Y-%m-%dT%H:%M:%SZ')"
    if data_type in ("DOUBLE", "FLOAT", "REAL"):
        return f"case when isfinite({col}) then {col} end"  # NaN/inf are not JSON
    return col


@dataclass(frozen=True)
class PageRequest:
    """What a client asked for, already validated: entity filter, date range, page position."""

    entities: Sequence[str] | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    limit: int = 1000
    after: Sequence[object] | None = None  # key values of the previous page's last row


def page_query(
    dataset: Dataset, schema: Schema, request: PageRequest, *, as_json: bool
) -> tuple[str, list[object]]:
    """The SQL and bound parameters for one page (limit + 1 rows, to know if more follow).

    JSON pages are rendered by DuckDB (``to_json`` of a struct per row, followed by the key
    columns for the cursor): several times cheaper than converting rows to Python objects and
    encoding them again, which matters at a few hundred rows per request.
    """
    types = dict(schema)
    if not types:
        raise DatasetMissing(f"gold.{dataset.table} is not in this warehouse yet")
    columns = list(dataset.columns or types)
    missing = [c for c in (*columns, *dataset.key) if c not in types]
    if missing:
        raise DatasetMissing(f"gold.{dataset.table} has no column {', '.join(missing)}")
    if as_json:
        fields = ", ".join(  # struct keys are column names, checked by _json_expression/_quoted
            f"'{c}': {_json_expression(c, types[c], c in dataset.json_text_columns)}"
            for c in columns
        )
        selected = f"to_json({{{fields}}})::varchar, {', '.join(map(_quoted, dataset.key))}"
    else:
        selected = ", ".join(map(_quoted, columns))
    where, params = filters(dataset, request)
    sql = (
        f"select {selected} "  # noqa: S608 - identifiers are constants/catalog names checked by _quoted
        f"from {GOLD_SCHEMA}.{_quoted(dataset.table)} "
        f"{'where ' + ' and '.join(where) if where else ''} "
        f"order by {', '.join(map(_quoted, dataset.key))} limit ?"
    )
    params.append(request.limit + 1)
    return sql, params


def filters(
    dataset: Dataset, request: PageRequest, *, date_placeholder: str = "?"
) -> tuple[list[str], list[object]]:
    """The WHERE terms (entity, date range, seek) and their bound values, in placeholder order.

    Shared by the DuckDB and Athena readers. ``date_placeholder`` is how a date value is bound:
    DuckDB takes a ``datetime.date`` as ``?``; Athena's execution parameters are literals, so
    its reader passes ``cast(? as date)`` and binds the ISO text.
    """
    def bound(column: str) -> str:
        return date_placeholder if column in DATE_COLUMNS else "?"

    entities, start, end, after = request.entities, request.start, request.end, request.after
    where: list[str] = []
    params: list[object] = []
    if entities:
        where.append(f"{_quoted(dataset.entity_column)} in ({', '.join('?' * len(entities))})")
        params.extend(entities)
    if dataset.date_column and start is not None:
        where.append(f"{_quoted(dataset.date_column)} >= {bound(dataset.date_column)}")
        params.append(start)
    if dataset.date_column and end is not None:
        where.append(f"{_quoted(dataset.date_column)} <= {bound(dataset.date_column)}")
        params.append(end)
    if after is not None:
        where.append(_seek_predicate(dataset.key, bound))
        for i in range(len(dataset.key)):
            params.extend(after[: i + 1])
    return where, params


def fetch_page(
    cur: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    schema: Schema,
    request: PageRequest,
    *,
    as_arrow: bool = False,
) -> Page:
    """One page of ``dataset`` in key order, filtered by entity and date range."""
    sql, params = page_query(dataset, schema, request, as_json=not as_arrow)
    limit = request.limit
    try:
        result = cur.execute(sql, params)
    except duckdb.CatalogException as exc:
        raise DatasetMissing(f"gold.{dataset.table} is not in this warehouse yet") from exc
    if as_arrow:
        table = result.to_arrow_table()
        more = table.num_rows > limit
        table = table.slice(0, limit)
        last = [table.column(k)[limit - 1].as_py() for k in dataset.key] if more else None
        page = Page(json_rows=None, table=table, next_cursor=None)
    else:
        rows = result.fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        last = list(rows[-1][1:]) if more else None
        page = Page(json_rows=[row[0] for row in rows], table=None, next_cursor=None)
    if last is not None:
        page = dataclasses.replace(page, next_cursor=encode_cursor(last))
    return page


def _seek_predicate(key: Sequence[str], bound: Callable[[str], str]) -> str:
    """(k1 > ?) or (k1 = ? and k2 > ?) or ...: rows strictly after the cursor in key order."""
    terms = []
    for i, column in enumerate(key):
        equal = [f"{_quoted(k)} = {bound(k)}" for k in key[:i]]
        terms.append("(" + " and ".join([*equal, f"{_quoted(column)} > {bound(column)}"]) + ")")
    return "(" + " or ".join(terms) + ")"


# dbt's leftovers of an interrupted run (``<model>__dbt_backup``/``__dbt_tmp``): not gold.
_DBT_LEFTOVER = re.compile(r"__dbt_(backup|tmp)$")


def freshness(cur: duckdb.DuckDBPyConnection) -> list[dict[str, object]]:
    """Latest trade_date and row count of every gold table (views included, e.g. dim_tickers).

    Two statements whatever the number of tables: the catalog (``duckdb_columns()``, about
    half the cost of the ``information_schema`` views) and one ``union all`` of the counts.
    Measured on the benchmark year (3 tables): 20 ms against 40 ms for the catalog view plus
    one query per table, on the loaded 2-core machine; it was the costliest route of the mixed
    load profile (bench/api_load.py).
    """
    tables = [
        (name, has_date) for name, has_date in cur.execute(
            "select table_name, bool_or(column_name = 'trade_date') from duckdb_columns() "
            "where database_name = current_database() and schema_name = ? "
            "group by table_name order by table_name",
            [GOLD_SCHEMA],
        ).fetchall()
        if _IDENTIFIER.fullmatch(name) and not _DBT_LEFTOVER.search(name)
    ]
    if not tables:
        return []
    latest = {True: 'try_cast(max("trade_date") as date)', False: "null::date"}
    counts = " union all ".join(
        f"select {position}, {latest[bool(has_date)]}, count(*) "  # noqa: S608 - catalog names checked by _IDENTIFIER/_quoted
        f"from {GOLD_SCHEMA}.{_quoted(name)}"
        for position, (name, has_date) in enumerate(tables)
    )
    rows = {position: (latest, count) for position, latest, count in cur.execute(counts).fetchall()}
    return [{"table": name, "latest_trade_date": rows[i][0], "rows": rows[i][1]}
            for i, (name, _) in enumerate(tables)]
