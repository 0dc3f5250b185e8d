"""The bars' per-ticker orderings, computed once in NumPy and shared by the sequence checks.

Stale prints, outlier jumps, duplicate keys and storage disorder all look at a bar next to its
neighbours within a ticker. As DuckDB window functions each of them sorted the whole window
again (~1 s per check and million bars); here one stable sort of an integer key gives every
check its neighbours, and the checks only hand the few offending rows back to DuckDB, which
formats them with the checks' own SQL (same types, same order, same outcome).

Semantics follow the SQL they replace: a NULL ticker is a partition of its own, NULL
timestamps sort last within a ticker, and exact duplicates keep their storage order.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_MAX_KEY = 2**62
UNITS_PER_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


def _column(table: pa.Table, name: str) -> pa.Array:
    return table.column(name).combine_chunks()


def floats(table: pa.Table, name: str) -> np.ndarray:
    """A numeric column as float64 with NaN for NULL (NaN compares false, like NULL in SQL)."""
    return _column(table, name).cast(pa.float64()).to_numpy(zero_copy_only=False)


def epoch_ints(stamps: pd.Series, unit: str) -> np.ndarray:
    """UTC timestamps as integers since the epoch in ``unit`` (``s``, ``ms``, ``us``, ``ns``)."""
    return np.array([t.value // UNITS_PER_NS[unit] for t in stamps], dtype=np.int64)


class BarOrder:
    """Ticker codes, timestamps as integers, and the rows sorted by (ticker, ts).

    Orderings use one int64 key, ``code * span + rel``: ``rel`` is the timestamp's offset from
    the earliest one (1, 2, ...), or, when tickers x time span would not fit in 63 bits (e.g.
    nanosecond timestamps over a year for hundreds of tickers), its rank among the distinct
    timestamps. Either keeps order and equality, which is all the checks ask of it.
    """

    def __init__(self, table: pa.Table) -> None:
        tickers = _column(table, "ticker").dictionary_encode()
        codes = tickers.indices.to_numpy(zero_copy_only=False)
        null_ticker = np.asarray(tickers.indices.is_null())
        self.ticker_names: pa.Array = tickers.dictionary
        self.codes = np.where(null_ticker, len(tickers.dictionary), codes).astype(np.int64)
        ts = _column(table, "ts")
        if not pa.types.is_timestamp(ts.type):
            raise TypeError(f"bars.ts must be a timestamp, not {ts.type}")
        self.ts_type = ts.type
        self.ts_valid = ~np.asarray(ts.is_null())
        self.ts_raw = pc.fill_null(ts.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
        self.n = len(table)
        valid = self.ts_raw[self.ts_valid]
        self._min = int(valid.min()) if len(valid) else 0
        self._ranks: np.ndarray | None = None  # distinct timestamps, when rel is a rank
        self.span = (int(valid.max()) - self._min if len(valid) else 0) + 3
        if (len(self.ticker_names) + 1) * self.span >= _MAX_KEY:
            self._ranks = np.unique(valid)
            self.span = len(self._ranks) + 3
        # rel: 1 .. span - 2 for timestamps; span - 1 ("NULLS LAST") for missing ones.
        self._rel_last = np.where(self.ts_valid, self.to_rel(self.ts_raw), self.span - 1)

    def to_rel(self, values: np.ndarray) -> np.ndarray:
        """Timestamps (raw integers) as rel; a value between two timestamps gets the next one's."""
        values = np.asarray(values, dtype=np.int64)
        if self._ranks is None:
            return np.clip(values - self._min + 1, 1, self.span - 1)
        return np.searchsorted(self._ranks, values) + 1

    def from_rel(self, rel: np.ndarray) -> np.ndarray:
        if self._ranks is None:
            return rel + self._min - 1
        return self._ranks[rel - 1]  # rank mode implies at least one timestamp

    def _key(self, rel: np.ndarray) -> np.ndarray:
        return self.codes * self.span + rel

    @cached_property
    def by_ticker_ts(self) -> np.ndarray:
        """Row numbers in (ticker, ts) order, NULL ts last, ties in storage order."""
        return np.argsort(self._key(self._rel_last), kind="stable")

    @cached_property
    def same_ticker_as_previous(self) -> np.ndarray:
        """For each position of :attr:`by_ticker_ts`: the previous position is the same ticker."""
        codes = self.codes[self.by_ticker_ts]
        same = np.zeros(self.n, dtype=bool)
        same[1:] = codes[1:] == codes[:-1]
        return same

    @cached_property
    def ticker_start(self) -> np.ndarray:
        """For each position of :attr:`by_ticker_ts`: the position of its ticker's first row."""
        positions = np.arange(self.n)
        return np.maximum.accumulate(np.where(self.same_ticker_as_previous, 0, positions))

    def previous_max_ts(self) -> tuple[np.ndarray, np.ndarray]:
        """Per row, the latest ts of the same ticker stored *before* it (and whether there is one).

        What ``max(ts) over (partition by ticker order by row rows between unbounded preceding
        and 1 preceding)`` gives: NULL timestamps count for nothing (rel 0 here).
        """
        rel = np.where(self.ts_valid, self._rel_last, 0)
        # Stable argsort of 16-bit integers is a radix sort in NumPy (O(n)).
        codes = self.codes.astype(np.uint16) if len(self.ticker_names) < 2**16 else self.codes
        order = np.argsort(codes, kind="stable")
        # Keys of a later ticker exceed all of an earlier one's, so one running max serves all.
        running = np.maximum.accumulate(self._key(rel)[order])
        grouped = self.codes[order]
        previous = np.zeros(self.n, dtype=np.int64)
        previous[1:] = running[:-1] - grouped[1:] * self.span
        previous[np.concatenate(([True], grouped[1:] != grouped[:-1]))[: self.n]] = 0
        has = np.zeros(self.n, dtype=bool)
        has[order] = previous > 0
        prev_rel = np.zeros(self.n, dtype=np.int64)
        prev_rel[order] = previous
        return np.where(has, self.from_rel(np.maximum(prev_rel, 1)), 0), has

    def distinct_aligned_counts(self, starts: np.ndarray, ends: np.ndarray, step: int) -> np.ndarray:
        """Distinct timestamps per ticker (rows, in ``ticker_names`` order) and range (columns)
        that are multiples of ``step`` within [start, end), in the ts column's own unit."""
        rows = self.by_ticker_ts
        keep = self.ts_valid[rows] & (self.ts_raw[rows] % step == 0)
        keys = self._key(self._rel_last)[rows][keep]
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))[: len(keys)]]
        codes = np.arange(len(self.ticker_names), dtype=np.int64)[:, None] * self.span
        lo, hi = self.to_rel(starts), self.to_rel(ends)
        return np.searchsorted(keys, codes + hi[None, :]) - np.searchsorted(keys, codes + lo[None, :])

    def ts_array(self, values: np.ndarray) -> pa.Array:
        """Integer timestamps as an Arrow array of the bars' own ts type (unit and zone)."""
        return pa.array(values.astype(np.int64), type=pa.int64()).cast(self.ts_type)
