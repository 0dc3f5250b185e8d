"""``Accept`` q-values are honoured: ``text/csv;q=0`` means "not CSV".

RFC 9110 12.5.1: each media type takes the q of the most specific range naming it, and q=0
means "not acceptable". ``format=`` still wins over the header.
"""

from __future__ import annotations

import io

import pyarrow.parquet as pq
import pytest

from finks_api.formats import negotiate
from finks_assets_tests.unit.test_api_hardening import Api, api  # noqa: F401 - the fixture

CASES = [
    ("text/csv;q=0", "json"),
    ("text/csv; q=0.0", "json"),
    ("text/csv;q=0, */*", "json"),
    ("text/csv;q=0, text/*", "json"),  # the specific range wins over text/*
    ("*/*;q=0.1, text/csv;q=0", "json"),
    ("text/csv;q=0.5, application/json", "json"),
    ("application/json;q=0.1, text/csv;q=0.9", "csv"),
    ("application/vnd.apache.parquet;q=0.3, text/csv;q=0.2", "parquet"),
    ("application/json;q=0, text/csv;q=0.2", "csv"),
    ("text/csv", "csv"),
    ("TEXT/CSV; Q=1", "csv"),
    ("text/csv;charset=utf-8", "csv"),
    ("text/csv, application/json", "csv"),  # equal q: the first listed
    ("application/json, text/csv", "json"),
    ("text/*", "csv"),
    ("*/*", "json"),
    ("application/*", "json"),
    ("text/csv;q=abc", "json"),  # a malformed q drops that range
    ("text/csv;q=2", "json"),  # q is at most 1
    ("text/html", "json"),
    ("", "json"),
    (None, "json"),
]


@pytest.mark.parametrize(("accept", "expected"), CASES)
def test_negotiate_honours_q_values(accept: str | None, expected: str) -> None:
    assert negotiate(None, accept) == expected


def test_format_parameter_still_wins() -> None:
    assert negotiate("csv", "text/csv;q=0") == "csv"


def test_csv_q0_over_http_gives_json(api: Api) -> None:  # noqa: F811 - the fixture
    response = api.client.get("/v1/daily-bars",
                              headers={"X-API-Key": api.key, "Accept": "text/csv;q=0"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["count"] == 2


def test_the_preferred_file_format_over_http(api: Api) -> None:  # noqa: F811 - the fixture
    response = api.client.get("/v1/daily-bars", headers={
        "X-API-Key": api.key,
        "Accept": "text/csv;q=0.5, application/vnd.apache.parquet, application/json;q=0.1"})
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    assert pq.read_table(io.BytesIO(response.content)).num_rows == 2


# --- a query parameter the route does not take is refused, not ignored ----------------------

@pytest.mark.parametrize("query", ["tickrs=MSFT", "strat=2025-11-25", "=x", "TICKERS=MSFT",
                                   "tickers=MSFT&format=json&extra=1"])
def test_unknown_query_parameters_are_a_422(api: Api, query: str) -> None:  # noqa: F811
    response = api.client.get(f"/v1/daily-bars?{query}", headers={"X-API-Key": api.key})
    assert response.status_code == 422, response.text
    assert "unknown query parameter" in response.json()["detail"]


def test_declared_query_parameters_still_work(api: Api) -> None:  # noqa: F811
    response = api.client.get("/v1/daily-bars?tickers=MSFT&start=2025-11-24&limit=5&format=json",
                              headers={"X-API-Key": api.key})
    assert response.status_code == 200 and response.json()["count"] == 1
