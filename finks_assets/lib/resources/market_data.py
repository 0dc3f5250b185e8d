"""The configured market-data vendor, as a resource (``FINKS_SOURCE``)."""


import dagster as dg

from finks_assets.lib.sources.base import BarSource


class MarketDataResource(dg.ConfigurableResource):
    """Builds the vendor adapter named by ``source``; adapters stay free of Dagster."""

    source: str = "synthetic"
    synthetic_seed: int = 7

    def bar_source(self) -> BarSource:
        if self.source == "synthetic":
            from finks_assets.lib.sources.synthetic import SyntheticSource

            return SyntheticSource(seed=self.synthetic_seed)
        if self.source == "yfinance":
            from finks_assets.lib.sources.yfinance_source import YFinanceSource

            return YFinanceSource()
        raise ValueError(f"unknown market-data source {self.source!r}")
