"""Shared helpers for the data-API tests: a real gold warehouse and a live uvicorn server."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import uvicorn

from finks_api.app import create_app
from finks_api.config import ApiConfig
from finks_assets.cli.main import run_range
from finks_assets.lib.settings import FinksSettings
from finks_assets_tests.conftest import SMALL_UNIVERSE

FIRST, LAST = "2025-11-24", "2025-11-28"  # Thanksgiving week: 4 sessions


def build_gold(data_dir: Path) -> FinksSettings:
    """Run the real pipeline (synthetic source -> bronze -> silver -> dbt gold) for one week."""
    settings = FinksSettings.from_env(
        {"FINKS_DATA_DIR": str(data_dir), "FINKS_UNIVERSE": ",".join(SMALL_UNIVERSE)}
    )
    assert run_range(settings, FIRST, LAST).success
    return settings


def gold(settings: FinksSettings, sql: str, params: list | None = None) -> pd.DataFrame:
    """Read gold the way an analyst would; a short-lived read-only connection."""
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(sql, params or []).df()


def write_warehouse(settings: FinksSettings, sql: str) -> None:
    """Run a write in another process, as Dagster/dbt would (DuckDB locks are per process)."""
    code = "import duckdb, sys\nwith duckdb.connect(sys.argv[1]) as con:\n    con.execute(sys.argv[2])\n"
    subprocess.run(
        [sys.executable, "-c", code, str(settings.warehouse_path), sql], check=True, timeout=60
    )


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server


@contextmanager
def live_server(config: ApiConfig) -> Iterator[LiveServer]:
    """The app under uvicorn on a loopback port, in a thread; stopped on exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), log_level="warning", access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        assert thread.is_alive(), "uvicorn thread died"
        time.sleep(0.05)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", server=server)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
