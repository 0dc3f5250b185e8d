"""Response encodings: JSON (default), CSV and Parquet, chosen by ``?format=`` or ``Accept``."""

from __future__ import annotations

import io
import json
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


def json_body(page: Page) -> bytes:
    """``{"data": [...], "count": n, "next_cursor": ...}`` around the rows DuckDB rendered."""
    rows = page.json_rows or []
    tail = json.dumps({"count": len(rows), "next_cursor": page.next_cursor})[1:]
    return ('{"data":[' + ",".join(rows) + "]," + tail).encode()


def encode(page: Page, fmt: Format) -> Response:
    """The page as a response; the next-page cursor is in the body (JSON) and a header (all)."""
    headers = {"X-Next-Cursor": page.next_cursor} if page.next_cursor else {}
    if fmt == "json":
        content = json_body(page)
    elif fmt == "csv":
        sink = io.BytesIO()
        pa_csv.write_csv(page.table, sink)
        content = sink.getvalue()
    else:
        sink = io.BytesIO()
        pq.write_table(page.table, sink)
        content = sink.getvalue()
    return Response(content=content, media_type=MEDIA_TYPES[fmt], headers=headers)
