"""Run configuration shared by the ingestion assets."""


import dagster as dg
from pydantic import Field

from finks_assets.tickers import validate_tickers


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


class BarFetchConfig(TickerSelection):
    """Run config of the 1-minute bronze step: which tickers, and how many sessions at once.

    A single-run backfill of a year would otherwise hold every bar of the window in memory
    while it splits and audits them; fetching and writing a bounded number of sessions at a
    time keeps peak memory proportional to that chunk (as the silver step does).
    """

    sessions_per_fetch: int = Field(
        21, ge=1,
        description="Trading sessions fetched, audited and written together (21 ~ a month).",
    )
