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
# In preference order: a wildcard (``*/*``, ``application/*``) that admits several gets JSON.
_ACCEPTED: dict[str, Format] = {
    "application/json": "json",
    "text/csv": "csv",
    "application/vnd.apache.parquet": "parquet",
    "application/parquet": "parquet",
    "application/x-parquet": "parquet",
}


def _accept_ranges(accept: str) -> list[tuple[str, float]]:
    """``(media range, q)`` per element of an Accept header; a malformed ``q`` drops the range."""
    ranges = []
    for element in accept.split(","):
        media, *params = (piece.strip() for piece in element.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = -1.0
        if media and 0.0 <= q <= 1.0:
            ranges.append((media.lower(), q))
    return ranges


def _matches(media_range: str, media_type: str) -> int:
    """How specifically ``media_range`` names ``media_type``: 2 exact, 1 ``type/*``, 0 ``*/*``;
    -1 when it does not match at all."""
    if media_range == media_type:
        return 2
    if media_range.endswith("/*") and media_type.startswith(media_range[:-1]):
        return 1
    return 0 if media_range == "*/*" else -1


def negotiate(format_param: Format | None, accept: str | None) -> Format:
    """``format=`` wins; else the Accept media type we serve with the highest q; else JSON.

    Each format takes the q of the most specific range that names it (RFC 9110 12.5.1), so
    ``text/csv;q=0, */*`` means "anything but CSV". Ties go to the range listed first, then
    to JSON. When nothing we serve is acceptable the answer is JSON anyway (the default; the
    RFC allows ignoring Accept rather than answering 406).
    """
    if format_param:
        return format_param
    ranges = _accept_ranges(accept or "")
    best: tuple[float, int, int, Format] | None = None
    for preference, (media_type, fmt) in enumerate(_ACCEPTED.items()):
        matching = [(_matches(r, media_type), -position, q)
                    for position, (r, q) in enumerate(ranges) if _matches(r, media_type) >= 0]
        if not matching:
            continue
        _, neg_position, q = max(matching)  # the most specific range (first, if equally so)
        candidate = (q, neg_position, -preference, fmt)
        if q > 0 and (best is None or candidate[:3] > best[:3]):
            best = candidate
    return best[3] if best else "json"


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
