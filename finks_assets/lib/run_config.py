"""Run configuration shared by the ingestion assets."""


import dagster as dg
from pydantic import Field

from finks_assets.lib.tickers import validate_tickers


class TickerSelection(dg.Config):
    """Which tickers a run fetches. Empty means the whole universe.

    A "backfill by ticker" is a date-range backfill with this set: the new bronze payloads
    merge into the existing silver partitions because silver is rebuilt from all bronze.
    """

    tickers: list[str] = Field(
        default_factory=list,
        description="Ticker symbols to fetch (e.g. ['AAPL', 'MSFT']); empty = FINKS_UNIVERSE.",
    )

    def resolve(self, universe: tuple[str, ...] | list[str]) -> list[str]:
        return validate_tickers(self.tickers or universe)
