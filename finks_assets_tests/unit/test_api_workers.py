"""``finks-api serve --workers N``: N uvicorn worker processes, each answering with its own
app (settings, key store, warehouse snapshot) built from the same environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import duckdb

from finks_api.keys import KeyStore
from finks_assets.lib.settings import FinksSettings
from finks_assets_tests.support.processes import REPO, free_port, stop_group


def _get(url: str, key: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"X-API-Key": key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_two_workers_serve_gold_from_one_environment(tmp_path: Path) -> None:
    settings = FinksSettings.from_env({"FINKS_DATA_DIR": str(tmp_path / "finks")})
    settings.warehouse_path.parent.mkdir(parents=True)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("create schema gold; create table gold.fct_daily_bars as "
                    "select 'AAPL' as ticker, date '2026-11-27' as trade_date")
    key = KeyStore(settings.api_key_store_path).create(["prices:read"]).key
    port = free_port()
    env = {**os.environ, "FINKS_DATA_DIR": str(settings.data_dir)}
    server = subprocess.Popen(
        [sys.executable, "-m", "finks_api.cli", "serve", "--port", str(port), "--workers", "2"],
        cwd=REPO, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while _get(f"http://127.0.0.1:{port}/readyz")[0] != 200:
            assert server.poll() is None and time.monotonic() < deadline, "server never ready"
            time.sleep(0.3)
        assert len(_children(server.pid)) >= 2  # the supervisor and its two workers
        answers = [_get(f"http://127.0.0.1:{port}/v1/freshness", key) for _ in range(10)]
        assert {status for status, _ in answers} == {200}
        tables = json.loads(answers[-1][1])["tables"]
        assert [(t["table"], t["rows"], t["latest_trade_date"]) for t in tables] == [
            ("fct_daily_bars", 1, "2026-11-27")]
        assert _get(f"http://127.0.0.1:{port}/v1/freshness")[0] == 401
    finally:
        stop_group(server)


def test_zero_workers_is_refused(tmp_path: Path) -> None:
    env = {**os.environ, "FINKS_DATA_DIR": str(tmp_path / "finks")}
    done = subprocess.run([sys.executable, "-m", "finks_api.cli", "serve", "--workers", "0"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "must be at least 1" in done.stderr
