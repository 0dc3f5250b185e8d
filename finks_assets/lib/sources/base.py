"""The interface every market-data vendor adapter implements.

A fetch returns the vendor's frames *as received* (bronze keeps them verbatim) together with
one outcome per ticker. Turning a raw frame into Finks' canonical bar columns is a separate
step (:meth:`BarSource.to_canonical`) so that bronze never depends on our parsing, and a
parsing fix can be replayed over old bronze without calling the vendor again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd


# The canonical 1-minute bar columns every adapter maps its raw frame to.
CANONICAL_COLUMNS: tuple[str, ...] = ("ticker", "ts", "open", "high", "low", "close", "volume")

TickerStatus = Literal["ok", "empty", "error"]


@dataclass(frozen=True)
class TickerOutcome:
    """What happened to one ticker in one fetch; it becomes a row of the ingestion audit."""

    ticker: str
    status: TickerStatus
    rows: int = 0
    error: str | None = None


@dataclass
class BarFetch:
    """The result of one fetch: raw frames per ticker, and an outcome for every ticker asked."""

    source: str
    fetched_at: pd.Timestamp
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    outcomes: dict[str, TickerOutcome] = field(default_factory=dict)


class SourceError(RuntimeError):
    """A vendor failure that is specific to one request; never carries secrets."""


@runtime_checkable
class BarSource(Protocol):
    """A vendor of 1-minute bars."""

    name: str

    def fetch_bars_1m(self, tickers: Sequence[str], days: Sequence[dt.date]) -> BarFetch:
        """Fetch bars for ``tickers`` on the trading ``days``.

        Must not raise for a single ticker's failure: record it in ``outcomes`` instead, so one
        bad symbol never costs the others their data.
        """
        ...

    def to_canonical(self, raw: pd.DataFrame) -> pd.DataFrame:
        """Map a raw frame from :meth:`fetch_bars_1m` to :data:`CANONICAL_COLUMNS`.

        ``ts`` must be a tz-aware UTC timestamp marking the *start* of the bar. ``raw`` always
        carries the bronze lineage column ``_ticker`` (added by the caller next to the vendor's
        own columns); adapters take the ticker from it.
        """
        ...
