"""``finks`` CLI input handling: bad input is a clear error (exit 2), never a silent default."""

from __future__ import annotations

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
