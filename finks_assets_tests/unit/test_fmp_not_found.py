"""FMP's 404 has its own reason, ``not_found``, over real HTTP against the
loopback FMP (fakes/fmp_server.py): it used to fall through to ``server_error``, which sends the
reader to FMP's health instead of to the path or the symbol."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import pytest

from finks_assets.defs.fmp.outcomes import failure_status, fetch_each
from finks_assets.lib.resources.fmp import FmpResource
from finks_assets.lib.sources.fmp import errors
from finks_assets.lib.sources.fmp.client import FmpClient
from finks_assets_tests.fakes import fmp_server as fake
from finks_assets_tests.fakes.fmp_server import FakeFmpServer

KEY = "sEcReT-fmp-key-404"
WEEK = (dt.date(2025, 11, 24), dt.date(2025, 11, 28))


@pytest.fixture
def server():
    with FakeFmpServer(api_key=KEY) as fmp:
        yield fmp


def not_found() -> fake.Reply:
    return fake.Reply(404, json.dumps({"Error Message": "Not found"}).encode())


def test_a_404_is_not_found_not_a_server_error_and_is_not_retried(server):
    server.script("AAPL", not_found())
    with FmpClient(KEY, base_url=server.base_url, max_retries=3, backoff_factor=0.01) as client:
        with pytest.raises(errors.FmpNotFound) as info:
            client.profile("AAPL")
    exc = info.value
    assert not isinstance(exc, errors.FmpServerError)
    assert exc.status == 404 and exc.reason == "not_found"
    assert exc.describe().startswith("not_found: ") and "HTTP 404" in exc.describe()
    assert len(server.calls("AAPL")) == 1  # a 404 is not retried
    assert KEY not in exc.describe()


def test_a_wrong_path_is_not_found(server):
    """The fake answers 404 to a path it does not serve, as FMP does (a wrong FMP_BASE_URL)."""
    with FmpClient(KEY, base_url=f"{server.base_url}/v9", max_retries=2,
                   backoff_factor=0.01) as client, pytest.raises(errors.FmpNotFound):
        client.historical_price_eod("MSFT", *WEEK)
    assert [r.path for r in server.requests] == ["/v9/stable/historical-price-eod/full"]


def test_a_404_stays_the_tickers_own_failure_with_reason_not_found(server):
    server.script("JPM", not_found())
    fmp = FmpResource(api_key=KEY, base_url=server.base_url, max_retries=1, backoff_factor=0.01)
    payloads, failures = fetch_each(fmp, ["AAPL", "JPM"], lambda client, t: client.profile(t),
                                    dg.get_dagster_logger())
    assert list(payloads) == ["AAPL"]
    assert failures["JPM"].startswith("not_found: ") and "server_error" not in failures["JPM"]
    assert failure_status(failures["JPM"]) == "error"

