"""Response encodings: JSON (default), CSV and Parquet, chosen by ``?format=`` or ``Accept``."""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import math
from collections.abc import Sequence
from typing import Literal

import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from fastapi.responses import Response

from finks_api.datasets import Page

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


def _json_default(value: object) -> object:
    """Types the json module does not know: dates, UTC timestamps (DuckDB's are naive UTC)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _finite(value: object) -> object:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def json_body(page: Page, json_text_columns: Sequence[str] = ()) -> bytes:
    """``{"data": [...], "count": n, "next_cursor": ...}``; NaN/inf become null (valid JSON)."""
    columns = page.columns
    rows = page.rows if page.rows is not None else list(zip(*(c.to_pylist() for c in page.table.columns), strict=True))  # type: ignore[union-attr]
    json_positions = [i for i, name in enumerate(columns) if name in json_text_columns]
    records = []
    for row in rows:
        if json_positions:
            row = list(row)
            for i in json_positions:
                if isinstance(row[i], str):
                    row[i] = json.loads(row[i])
        records.append(dict(zip(columns, row, strict=True)))
    body = {"data": records, "count": len(records), "next_cursor": page.next_cursor}
    try:
        text = json.dumps(body, separators=(",", ":"), allow_nan=False, default=_json_default)
    except ValueError:  # a NaN or infinity somewhere: rare, so only then walk every value
        body["data"] = [{k: _finite(v) for k, v in r.items()} for r in records]
        text = json.dumps(body, separators=(",", ":"), allow_nan=False, default=_json_default)
    return text.encode()


def encode(page: Page, fmt: Format, *, json_text_columns: Sequence[str] = ()) -> Response:
    """The page as a response; the next-page cursor is in the body (JSON) and a header (all)."""
    headers = {"X-Next-Cursor": page.next_cursor} if page.next_cursor else {}
    if fmt == "json":
        content = json_body(page, json_text_columns)
    elif fmt == "csv":
        sink = io.BytesIO()
        pa_csv.write_csv(page.table, sink)
        content = sink.getvalue()
    else:
        sink = io.BytesIO()
        pq.write_table(page.table, sink)
        content = sink.getvalue()
    return Response(content=content, media_type=MEDIA_TYPES[fmt], headers=headers)
