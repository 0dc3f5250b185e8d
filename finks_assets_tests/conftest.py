"""Shared fixtures. Every test that writes gets its own temp FINKS_DATA_DIR."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from finks_assets.lib.settings import FinksSettings
from finks_assets_tests.support.seaweedfs import s3_server  # noqa: F401 (module-scoped fixture)

# A week with a half day (Fri 2025-11-28, 13:00 close) and a holiday (Thu 2025-11-27).
THANKSGIVING_WEEK = [dt.date(2025, 11, d) for d in (24, 25, 26, 27, 28)]
SMALL_UNIVERSE = ("AAPL", "MSFT", "NVDA", "GOOGL", "AMZN", "SPY", "JPM", "XOM", "JNJ")


@pytest.fixture
def settings(tmp_path: Path) -> FinksSettings:
    return FinksSettings.from_env(
        {
            "FINKS_DATA_DIR": str(tmp_path / "finks"),
            "FINKS_UNIVERSE": ",".join(SMALL_UNIVERSE),
        }
    )
