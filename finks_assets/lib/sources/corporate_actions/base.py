"""The interface every corporate-actions adapter implements, and the columns it parses to.

As for bars, a fetch keeps the vendor's answer *as received* (bronze stores those bytes) and
parsing is a separate step, so a parsing fix can be replayed over old bronze without calling
the vendor again. One fetch is one ticker's whole action history: every vendor here answers
per symbol with the full history (yfinance ``Ticker.actions``, FMP ``/stable/splits`` and
``/stable/dividends``), so there is no date window to cut.

A payload has named *parts* (FMP sends splits and dividends in two answers; yfinance one frame),
each kept as its own bronze file ``<fetch id>.<part>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd


KINDS = ("split", "cash_dividend")
# What an adapter's parse() returns, values still unvalidated (silver validates and quarantines).
PARSED_COLUMNS = ("ticker", "ex_date", "kind", "split_ratio", "cash_amount", "currency")


@dataclass(frozen=True)
class ActionPayload:
    """One ticker's answer: its parts' bytes as received (part name -> bytes)."""

    ticker: str
    fetched_at: pd.Timestamp
    parts: Mapping[str, bytes]


@dataclass
class ActionFetch:
    """Payloads per ticker, and the failure reason of every ticker that got none."""

    source: str
    payloads: dict[str, ActionPayload] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class ActionSource(Protocol):
    name: str
    parts: tuple[str, ...]  # the part names a complete payload holds

    def fetch_actions(self, tickers: Sequence[str]) -> ActionFetch:
        """Fetch each ticker's history; one ticker's failure goes to ``failures``, never raises."""
        ...

    def parse(self, payload: ActionPayload) -> pd.DataFrame:
        """The payload's events as :data:`PARSED_COLUMNS` (``split_ratio`` = new shares per old
        share; ``cash_amount`` per share as paid, i.e. not adjusted for later splits)."""
        ...


def parsed_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows as a frame with exactly :data:`PARSED_COLUMNS` (an empty list gives 0 typed rows)."""
    import pandas as pd
    frame = pd.DataFrame(rows, columns=list(PARSED_COLUMNS))
    return frame.astype({"split_ratio": "float64", "cash_amount": "float64"})


def split_ratio_of(numerator: object, denominator: object) -> float | None:
    """``numerator / denominator`` (new shares per old share), or None when it is not a number
    (silver then quarantines the row instead of the parser raising on a vendor's zero)."""
    try:
        return float(numerator) / float(denominator)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
