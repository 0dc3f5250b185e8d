"""Regression tests for the smaller defects of issue 18, item 6, outside the API's request path:
the API folder's mode, a non-UTF-8 universe file, temp files a crash left in the lake, an FMP
run that delivered no ticker, and the landed-bars job materializing FMP's silver.

Everything runs for real: the ``finks-api serve`` entry point (uvicorn replaced by the app's
own lifespan), the lake writer on disk, the FMP client over HTTP against the loopback fake,
and Dagster materializing the FMP bronze asset.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest
import uvicorn
from fastapi.testclient import TestClient

from finks_api import cli as api_cli
from finks_assets.cli.main import main as finks_main
from finks_assets.definitions import build_definitions
from finks_assets.defs.bars_1m.landing_sensor import LANDED_BARS_JOB
from finks_assets.defs.bars_1m.silver import SILVER_BARS, SILVER_QUARANTINE
from finks_assets.defs.fmp.eod import BRONZE_FMP_EOD, SILVER_FMP_BARS_1D, bronze_fmp_eod
from finks_assets.defs.fmp.outcomes import fetch_each
from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.lake.writer import STALE_TEMP_SECONDS, LakeWriter
from finks_assets.lib.resources.fmp import FmpResource
from finks_assets.lib.resources.lake import LakeResource
from finks_assets.lib.resources.universe import UniverseResource
from finks_assets.lib.settings import FinksSettings
from finks_assets.lib.tickers import InvalidTickerError, parse_universe
from finks_assets_tests.fakes import fmp_server as fake
from finks_assets_tests.fakes.fmp_server import FakeFmpServer

KEY = "sEcReT-fmp-key-18"


# --- `finks-api serve` creates its folders 0700 ---------------------------------------------

def test_serve_creates_the_api_folder_0700(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "finks"
    monkeypatch.setenv("FINKS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("FINKS_UNIVERSE", "AAPL")
    served: list[int] = []

    def run_lifespan_only(app, **_: object) -> None:  # what uvicorn would start, minus the socket
        with TestClient(app) as client:
            served.append(client.get("/healthz").status_code)

    monkeypatch.setattr(uvicorn, "run", run_lifespan_only)
    old_umask = os.umask(0o022)  # the usual umask, under which mkdir gives 0755
    try:
        assert api_cli.main(["serve"]) == 0
    finally:
        os.umask(old_umask)
    assert served == [200]
    for folder in (data_dir / "api", data_dir / "api" / "snapshots"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o755  # the data dir is not the API's


# --- a universe file that is not UTF-8 ------------------------------------------------------

def test_a_non_utf8_universe_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    universe = tmp_path / "universe.txt"
    universe.write_bytes(b"# tickers\nAAPL\n\xff\xfeMSFT\n")  # e.g. saved as UTF-16 / Latin-1
    with pytest.raises(InvalidTickerError, match=r"is not UTF-8 text \(byte 0xff on line 3\)"):
        parse_universe(str(universe))
    with pytest.raises(InvalidTickerError, match="not UTF-8 text"):  # settings pass it on
        FinksSettings.from_env({"FINKS_UNIVERSE": str(universe)})

    monkeypatch.setenv("FINKS_DATA_DIR", str(tmp_path / "finks"))
    monkeypatch.setenv("FINKS_UNIVERSE", str(universe))
    monkeypatch.chdir(tmp_path)  # no developer .env
    assert finks_main(["demo", "--days", "1"]) == 2
    err = capsys.readouterr().err
    assert "not UTF-8 text" in err and "Traceback" not in err and "codec" not in err
    assert not (tmp_path / "finks" / "lake").exists()  # nothing ran


# --- temp files a crashed writer left behind ------------------------------------------------

def test_the_next_write_removes_stale_temp_files_but_not_a_live_writers(tmp_path: Path) -> None:
    writer = LakeWriter(LakeStore.local(str(tmp_path / "lake")))
    directory = tmp_path / "lake" / "silver" / "bars_1m" / "trade_date=2025-11-24"
    directory.mkdir(parents=True)
    crashed = directory / ".tmp-0123abcd-part-0.parquet"  # what kill -9 mid-write leaves
    crashed.write_bytes(b"PAR1 half a file")
    hour_ago = time.time() - STALE_TEMP_SECONDS - 60
    os.utime(crashed, (hour_ago, hour_ago))
    live = directory / ".tmp-4567efab-part-0.parquet"  # another run writing right now
    live.write_bytes(b"PAR1 being written")
    elsewhere = tmp_path / "lake" / "silver" / "bars_1m" / "trade_date=2025-11-25"
    elsewhere.mkdir()
    other = elsewhere / ".tmp-89abcdef-part-0.parquet"
    other.write_bytes(b"x")
    os.utime(other, (hour_ago, hour_ago))

    writer.write_parquet("silver/bars_1m/trade_date=2025-11-24/part-0.parquet",
                         pa.table({"ticker": ["AAPL"]}))

    assert sorted(p.name for p in directory.iterdir()) == [live.name, "part-0.parquet"]
    assert other.exists()  # only the directory written is swept


# --- an FMP run in which no ticker was delivered --------------------------------------------

@pytest.fixture
def server() -> Iterator[FakeFmpServer]:
    with FakeFmpServer(api_key=KEY) as fmp:
        yield fmp


def _fetch(server: FakeFmpServer, tickers: list[str]):
    fmp = FmpResource(api_key=KEY, base_url=server.base_url, max_retries=1, backoff_factor=0.01)
    return fetch_each(fmp, tickers, lambda client, t: client.profile(t), dg.get_dagster_logger())


@pytest.mark.parametrize(
    ("replies", "retried"),
    [
        ({"AAPL": fake.payment_required(), "JPM": fake.forbidden()}, False),
        ({"AAPL": fake.empty(), "JPM": fake.empty()}, False),
        ({"AAPL": fake.payment_required(), "JPM": fake.server_error()}, True),  # JPM may recover
    ],
    ids=["refused", "empty", "refused-and-unavailable"],
)
def test_no_delivered_ticker_fails_the_step(
    server: FakeFmpServer, replies: dict[str, fake.Reply], retried: bool
) -> None:
    for ticker, reply in replies.items():
        server.script(ticker, reply, reply)
    with pytest.raises(dg.Failure, match="FMP delivered none of the 2 requested") as failure:
        _fetch(server, list(replies))
    assert failure.value.allow_retries is retried
    assert "AAPL: " in failure.value.description and "JPM: " in failure.value.description
    assert KEY not in failure.value.description


def test_one_delivered_ticker_is_still_a_success(server: FakeFmpServer) -> None:
    server.script("JPM", fake.payment_required())
    payloads, failures = _fetch(server, ["AAPL", "JPM"])
    assert list(payloads) == ["AAPL"] and list(failures) == ["JPM"]


def test_an_eod_run_with_zero_delivered_tickers_fails(server: FakeFmpServer, tmp_path: Path) -> None:
    for ticker in ("AAPL", "JPM"):
        server.script(ticker, fake.payment_required(), endpoint="eod")
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [bronze_fmp_eod], partition_key="2025-11-24", instance=instance, raise_on_error=False,
            resources={
                "fmp": FmpResource(api_key=KEY, base_url=server.base_url, max_retries=1,
                                   backoff_factor=0.01),
                "lake": LakeResource(root=str(tmp_path / "lake")),
                "universe": UniverseResource(tickers=["AAPL", "JPM"]),
            },
        )
        assert not result.success
        [failure] = [e for e in result.all_events if e.is_step_failure]
        assert "FMP delivered none of the 2 requested" in failure.step_failure_data.error.message
        assert instance.get_latest_materialization_event(BRONZE_FMP_EOD) is None


# --- the landed-bars job never runs FMP's silver --------------------------------------------

@pytest.mark.parametrize("source", ["synthetic", "fmp"])
def test_the_landed_bars_job_leaves_fmp_silver_alone(tmp_path: Path, source: str) -> None:
    """A landed 1-minute payload feeds silver/bars_1m; FMP's EOD bars come only from FMP's own
    fetch, so running ``silver/fmp_bars_1d`` here only rewrote its partitions from whatever
    bronze held (nothing, usually): empty partitions marked as materialized."""
    settings = FinksSettings.from_env({
        "FINKS_DATA_DIR": str(tmp_path / "finks"), "FINKS_SOURCE": source,
        "FINKS_UNIVERSE": "AAPL", "FMP_API_KEY": "not-used",
    })
    job = build_definitions(settings).resolve_job_def(LANDED_BARS_JOB)
    keys = set(job.asset_layer.executable_asset_keys)
    assert {SILVER_BARS, SILVER_QUARANTINE} <= keys
    assert SILVER_FMP_BARS_1D not in keys and BRONZE_FMP_EOD not in keys
    assert any(k.path[0] == "gold" for k in keys)  # gold is still rebuilt from the landing



# --- the key store is checked for changes at most once per recheck interval ------------------

def test_the_server_sees_a_revoke_within_its_recheck_interval(tmp_path: Path) -> None:
    from finks_api.config import ApiConfig
    from finks_api.keys import KeyStore

    admin = KeyStore(tmp_path / "keys.json")
    created = admin.create(["prices:read"])
    server = KeyStore(tmp_path / "keys.json", recheck_interval=0.3)
    assert server.authenticate(created.key) is not None
    admin.revoke(created.record.key_id)
    assert server.authenticate(created.key) is not None  # not re-checked yet: no stat
    time.sleep(0.35)
    assert server.authenticate(created.key) is None  # the next check sees the revoke
    assert ApiConfig(tmp_path, tmp_path, tmp_path).key_recheck_interval == 1.0
