"""Response encodings: JSON (default), CSV and Parquet, chosen by ``?format=`` or ``Accept``."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from collections.abc import Sequence
from typing import Literal

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from fastapi.responses import Response

Format = Literal["json", "csv", "parquet"]
MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
_ACCEPTED: dict[str, Format] = {
    "text/csv": "csv",
    "application/vnd.apache.parquet": "parquet",
    "application/parquet": "parquet",
    "application/x-parquet": "parquet",
    "application/json": "json",
}


def negotiate(format_param: Format | None, accept: str | None) -> Format:
    """``format=`` wins; else the first Accept media type we serve; else JSON."""
    if format_param:
        return format_param
    for part in (accept or "").split(","):
        media = part.split(";", 1)[0].strip().lower()
        if media in _ACCEPTED:
            return _ACCEPTED[media]
    return "json"


def _json_value(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def rows_as_json(table: pa.Table, json_text_columns: Sequence[str] = ()) -> list[dict[str, object]]:
    names = table.column_names
    parsed = [name in json_text_columns for name in names]
    rows = []
    for record in zip(*(column.to_pylist() for column in table.columns), strict=True):
        rows.append({
            name: (json.loads(value) if is_json and isinstance(value, str) else _json_value(value))
            for name, value, is_json in zip(names, record, parsed, strict=True)
        })
    return rows


def encode(
    table: pa.Table,
    fmt: Format,
    *,
    next_cursor: str | None,
    json_text_columns: Sequence[str] = (),
) -> Response:
    """The page as a response; the next-page cursor is in the body (JSON) and a header (all)."""
    headers = {"X-Next-Cursor": next_cursor} if next_cursor else {}
    if fmt == "json":
        body = {
            "data": rows_as_json(table, json_text_columns),
            "count": table.num_rows,
            "next_cursor": next_cursor,
        }
        content = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
    elif fmt == "csv":
        sink = io.BytesIO()
        pa_csv.write_csv(table, sink)
        content = sink.getvalue()
    else:
        sink = io.BytesIO()
        pq.write_table(table, sink)
        content = sink.getvalue()
    return Response(content=content, media_type=MEDIA_TYPES[fmt], headers=headers)
