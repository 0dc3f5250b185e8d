"""``finks`` CLI input handling: bad input is a clear error (exit 2), never a silent default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from finks_assets.cli.main import main


@pytest.mark.parametrize("tickers", ["", ",", "AAPL,,MSFT", "../x", "A;DROP"])
def test_demo_refuses_bad_or_empty_ticker_lists(
    tickers: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("FINKS_DATA_DIR", str(tmp_path / "finks"))
    monkeypatch.chdir(tmp_path)  # no developer .env
    assert main(["demo", "--days", "1", "--tickers", tickers]) == 2
    assert "invalid ticker symbol" in capsys.readouterr().err
    assert not (tmp_path / "finks" / "lake").exists()  # nothing ran


def test_the_cli_prints_no_dagster_beta_warnings(tmp_path: Path) -> None:
    """Importing the asset modules emits Dagster's beta warnings (``backfill_policy``); the CLI
    silences them before it imports any, so a user sees only Finks' own output. A fresh
    interpreter: this test process imported the asset modules long ago."""
    env = {**os.environ, "FINKS_DATA_DIR": str(tmp_path / "finks")}
    done = subprocess.run(
        [sys.executable, "-c", "from finks_assets.cli.main import main; main(['demo', '--days', '0'])"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "--days must be at least 1" in done.stderr
    assert "Warning" not in done.stderr, done.stderr[-2000:]
