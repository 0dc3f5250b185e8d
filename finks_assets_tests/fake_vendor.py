"""The loopback Yahoo (``fakes/yahoo.py``) as the ``market_data`` resource of real Dagster runs.

yfinance's own code runs against :class:`FakeYahoo` (a ``requests`` transport adapter), so the
requests a run makes are counted at the fake. The clock moves a minute per fetch, starting
after the fake's close, so every fetch has its own fetch time, as real fetches do.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from finks_assets.lib.sources.yfinance_source import YFinanceSource
from finks_assets_tests.fakes.yahoo import FakeYahoo


class FakeVendorMarketData:
    """Stands in for ``MarketDataResource`` (same two members) with yfinance on the fake."""

    source = "yfinance"

    def __init__(self, fake: FakeYahoo) -> None:
        self.fake = fake
        self._ticks: Iterator[pd.Timestamp] = (
            fake.now + pd.Timedelta(minutes=n) for n in range(1, 1_000_000))

    def bar_source(self) -> YFinanceSource:
        # yfinance memoizes responses per URL in-process; a deployed run is its own process, so
        # a re-fetch there always reaches the vendor. Here every run shares one process.
        from yfinance import data as yf_data

        yf_data.YfData.cache_get.cache_clear()
        return YFinanceSource(session=self.fake.session(), now=lambda: next(self._ticks),
                              sleep=lambda _seconds: None)

    def resource(self) -> dg.ResourceDefinition:
        return dg.ResourceDefinition.hardcoded_resource(self)

    def minute_chart_requests(self) -> int:
        """The 1-minute bar requests the fake received (yfinance's own time-zone lookups and
        cookie calls aside, which it caches between runs)."""
        return len(self.fake.chart_requests(interval="1m"))
