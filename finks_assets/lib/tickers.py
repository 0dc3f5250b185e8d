"""Ticker symbols: the one validation pattern and the universe.

Tickers become file paths, partition keys and SQL values, so every entry point funnels them
through :func:`validate_ticker` before anything is written. One pattern everywhere means a
symbol accepted by the API is also accepted by the pipeline and vice versa.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

# Upper-case letters/digits first, then letters, digits and the punctuation real symbols use:
# BRK.B, BF-B, ^GSPC (indices), EURUSD=X (FX), ES=F (futures).
TICKER_PATTERN = re.compile(r"^[A-Z0-9^][A-Z0-9.\-^=]{0,14}$")


class InvalidTickerError(ValueError):
    """A ticker symbol does not match :data:`TICKER_PATTERN`."""


def validate_ticker(symbol: object) -> str:
    """Return the symbol unchanged if it is safe to use as a path, key or SQL value."""
    if not isinstance(symbol, str) or not TICKER_PATTERN.fullmatch(symbol):
        raise InvalidTickerError(
            f"invalid ticker symbol {symbol!r}: expected 1-15 characters matching "
            f"{TICKER_PATTERN.pattern} (upper case, e.g. AAPL, BRK.B, ^GSPC)"
        )
    return symbol


def validate_tickers(symbols: Iterable[object]) -> list[str]:
    """Validate all symbols, de-duplicate them (keeping order) and refuse an empty list."""
    seen: dict[str, None] = {}
    for symbol in symbols:
        seen[validate_ticker(symbol)] = None
    if not seen:
        raise InvalidTickerError("the ticker selection is empty")
    return list(seen)


def parse_universe(spec: str) -> list[str]:
    """Read ``FINKS_UNIVERSE``: a comma-separated list, or the path of a universe file.

    A universe file holds one symbol per line; blank lines and ``#`` comments are ignored.
    """
    spec = spec.strip()
    if not spec:
        raise InvalidTickerError("FINKS_UNIVERSE is empty")
    path = Path(spec)
    if "," not in spec and (path.suffix in {".txt", ".csv"} or path.exists()):
        if not path.is_file():
            raise FileNotFoundError(f"universe file not found: {path}")
        try:  # explicit: the locale's encoding (ASCII under LANG=C) must not decide
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            line = path.read_bytes()[: exc.start].count(b"\n") + 1
            raise InvalidTickerError(
                f"universe file {path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} "
                f"on line {line}); save it as UTF-8 or plain ASCII, one symbol per line"
            ) from None
        lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
        return validate_tickers(line for line in lines if line)
    return validate_tickers(part.strip() for part in spec.split(",") if part.strip())
