from __future__ import annotations

from pathlib import Path

import pytest

from finks_assets.lib.settings import DEFAULT_UNIVERSE_FILE, FinksSettings, SettingsError
from finks_assets.lib.tickers import (
    InvalidTickerError,
    parse_universe,
    validate_ticker,
    validate_tickers,
)


@pytest.mark.parametrize("symbol", ["AAPL", "BRK.B", "BF-B", "^GSPC", "EURUSD=X", "ES=F", "A"])
def test_real_symbols_are_accepted(symbol: str) -> None:
    assert validate_ticker(symbol) == symbol


@pytest.mark.parametrize(
    "symbol", ["../etc", "A;DROP", "", "aapl", "A B", "A/B", "X" * 16, "'OR1=1", None, 42]
)
def test_unsafe_symbols_are_rejected_with_a_clear_error(symbol: object) -> None:
    with pytest.raises(InvalidTickerError, match="invalid ticker symbol"):
        validate_ticker(symbol)


def test_selection_is_deduplicated_and_never_empty() -> None:
    assert validate_tickers(["MSFT", "AAPL", "MSFT"]) == ["MSFT", "AAPL"]
    with pytest.raises(InvalidTickerError, match="empty"):
        validate_tickers([])


def test_universe_from_comma_list_and_file(tmp_path: Path) -> None:
    assert parse_universe("AAPL, MSFT,SPY") == ["AAPL", "MSFT", "SPY"]
    universe = tmp_path / "u.txt"
    universe.write_text("# comment\nAAPL\n\nMSFT  # inline\n")
    assert parse_universe(str(universe)) == ["AAPL", "MSFT"]
    universe.write_text("AAPL\n../etc\n")
    with pytest.raises(InvalidTickerError):
        parse_universe(str(universe))


def test_default_universe_has_at_least_ten_liquid_tickers() -> None:
    assert len(parse_universe(str(DEFAULT_UNIVERSE_FILE))) >= 10


def test_settings_defaults_and_errors(tmp_path: Path) -> None:
    settings = FinksSettings.from_env({"FINKS_DATA_DIR": str(tmp_path)})
    assert settings.env == "local" and settings.source == "synthetic"
    assert settings.warehouse_path == tmp_path / "warehouse.duckdb"
    with pytest.raises(SettingsError, match="FINKS_SOURCE"):
        FinksSettings.from_env({"FINKS_SOURCE": "bloomberg"})
    with pytest.raises(SettingsError, match="FINKS_ENV"):
        FinksSettings.from_env({"FINKS_ENV": "prod"})
    with pytest.raises(InvalidTickerError):
        FinksSettings.from_env({"FINKS_UNIVERSE": "AAPL,A;DROP"})
