"""``adjusted=true|false`` on the daily-bars routes: same auth and paging, rows from
``gold.fct_daily_bars_adjusted`` (default false: the raw ``gold.fct_daily_bars``).

The gold warehouse is built by the real pipeline on the synthetic source for Thanksgiving week
2026 (synthetic actions start in 2026), where some of MSFT, META, TSLA and AAPL have splits and
dividends (finks_assets/lib/sources/synthetic_actions.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from finks_api.app import create_app
from finks_api.config import ApiConfig
from finks_api.keys import KeyStore
from finks_assets.lib.dbt.project import DBT_PROJECT_DIR
from finks_assets.lib.settings import FinksSettings
from finks_assets_tests.api_support import gold

pytestmark = pytest.mark.skipif(
    not (DBT_PROJECT_DIR / "target" / "manifest.json").exists(),
    reason="dbt manifest missing: run `make manifest` (make test does it first)",
)

TICKERS = "MSFT,META,TSLA,AAPL"
FIRST, LAST = "2026-11-23", "2026-11-27"  # Thanksgiving week 2026: 4 sessions


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict, FinksSettings]]:
    from finks_assets.cli.main import run_range

    settings = FinksSettings.from_env({"FINKS_DATA_DIR": str(tmp_path_factory.mktemp("adj") / "f"),
                                       "FINKS_UNIVERSE": TICKERS})
    assert run_range(settings, FIRST, LAST).success
    config = ApiConfig.from_settings(settings, refresh_interval=0.0)
    store = KeyStore(config.key_store_path)
    headers = {"X-API-Key": store.create(["prices:read"]).key}
    with TestClient(create_app(config)) as client:
        yield client, headers, settings


def _rows(frame) -> list[dict]:
    out = []
    for row in frame.to_dict(orient="records"):
        row["trade_date"] = row["trade_date"].date().isoformat()
        out.append(row)
    return out


def test_adjusted_bars_are_the_adjusted_gold_rows(api) -> None:
    client, headers, settings = api
    body = client.get("/v1/daily-bars", params={"adjusted": "true"}, headers=headers).json()
    expected = gold(settings, "select ticker, trade_date, close, volume, adjustment_factor "
                              "from gold.fct_daily_bars_adjusted order by ticker, trade_date")
    got = [{k: r[k] for k in ("ticker", "trade_date", "close", "volume", "adjustment_factor")}
           for r in body["data"]]
    assert got == _rows(expected) and body["count"] == len(expected) == 4 * 4
    assert any(r["adjustment_factor"] != 1 for r in got)  # a split / dividend in the window


def test_default_and_false_serve_the_raw_bars(api) -> None:
    client, headers, settings = api
    default = client.get("/v1/daily-bars/TSLA", headers=headers).json()["data"]
    explicit = client.get("/v1/daily-bars/TSLA", params={"adjusted": "false"}, headers=headers).json()["data"]
    assert default == explicit and "adjustment_factor" not in default[0]
    raw = gold(settings, "select close from gold.fct_daily_bars where ticker = 'TSLA' order by trade_date")
    assert [r["close"] for r in default] == raw["close"].tolist()
    adjusted = client.get("/v1/daily-bars/TSLA", params={"adjusted": True}, headers=headers).json()["data"]
    assert [a["close"] for a in adjusted] == pytest.approx(
        [r["close"] * a["adjustment_factor"] for r, a in zip(default, adjusted, strict=True)])
    assert [a["close"] for a in adjusted] != [r["close"] for r in default]


def test_adjusted_pages_and_auth_are_the_same(api) -> None:
    client, headers, _ = api
    everything = client.get("/v1/daily-bars", params={"adjusted": "true"}, headers=headers).json()["data"]
    pages, cursor = [], None
    while True:
        params = {"adjusted": "true", "limit": 5, **({"cursor": cursor} if cursor else {})}
        body = client.get("/v1/daily-bars", params=params, headers=headers).json()
        pages.extend(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == everything
    assert client.get("/v1/daily-bars", params={"adjusted": "true"}).status_code == 401
    assert client.get("/v1/daily-bars", params={"adjusted": "maybe"}, headers=headers).status_code == 422
    window = client.get("/v1/daily-bars", headers=headers,
                        params={"adjusted": "true", "tickers": "MSFT", "start": LAST, "end": LAST})
    assert [r["trade_date"] for r in window.json()["data"]] == [LAST]
    assert FIRST < LAST
