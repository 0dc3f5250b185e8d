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
import pyarrow as pa
import pyarrow.compute as pc

_MAX_KEY = 2**62


def _column(table: pa.Table, name: str) -> pa.Array:
    return table.column(name).combine_chunks()


def floats(table: pa.Table, name: str) -> np.ndarray:
    """A numeric column as float64 with NaN for NULL (NaN compares false, like NULL in SQL)."""
    return _column(table, name).cast(pa.float64()).to_numpy(zero_copy_only=False)


def _grouped_key(codes: np.ndarray, rel: np.ndarray, span: int) -> np.ndarray | None:
    """codes * span + rel when it fits in int64 (one argsort), else None (use lexsort)."""
    if (int(codes.max(initial=0)) + 1) * span >= _MAX_KEY:
        return None
    return codes.astype(np.int64) * span + rel


class BarOrder:
    """Ticker codes, timestamps as integers, and the rows sorted by (ticker, ts)."""

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
        raw = pc.fill_null(ts.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
        self.ts_min = int(raw[self.ts_valid].min()) if self.ts_valid.any() else 0
        self.ts_raw = raw
        self.n = len(table)

    def _rel(self, null_rank: str) -> tuple[np.ndarray, int]:
        """ts - min + 1 (>= 1); NULL ts become 0 ("first") or span - 1 ("last")."""
        rel = self.ts_raw - self.ts_min + 1
        span = int(rel[self.ts_valid].max(initial=0)) + 2
        return np.where(self.ts_valid, rel, 0 if null_rank == "first" else span - 1), span

    @cached_property
    def by_ticker_ts(self) -> np.ndarray:
        """Row numbers in (ticker, ts) order, NULL ts last, ties in storage order."""
        rel, span = self._rel("last")
        key = _grouped_key(self.codes, rel, span)
        if key is None:
            return np.lexsort((rel, self.codes))
        return np.argsort(key, kind="stable")

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
        and 1 preceding)`` gives: NULL timestamps count for nothing.
        """
        rel, span = self._rel("first")
        # Stable argsort of 16-bit integers is a radix sort in NumPy (O(n)).
        codes = self.codes.astype(np.uint16) if len(self.ticker_names) < 2**16 else self.codes
        order = np.argsort(codes, kind="stable")
        key = _grouped_key(self.codes, rel, span)
        if key is None:  # per-ticker running max without a combined key
            running = np.empty(self.n, dtype=np.int64)
            codes = self.codes[order]
            bounds = np.flatnonzero(np.diff(codes)) + 1
            for part in np.split(np.arange(self.n), bounds):
                running[part] = np.maximum.accumulate(rel[order][part])
            base = np.zeros(self.n, dtype=np.int64)
        else:
            running = np.maximum.accumulate(key[order])
            base = self.codes[order] * span
        previous = np.zeros(self.n, dtype=np.int64)
        previous[1:] = running[:-1] - base[1:]
        first = np.ones(self.n, dtype=bool)
        first[1:] = self.codes[order][1:] != self.codes[order][:-1]
        previous[first] = 0
        has = np.zeros(self.n, dtype=bool)
        has[order] = previous > 0
        prev_rel = np.zeros(self.n, dtype=np.int64)
        prev_rel[order] = previous
        return prev_rel + self.ts_min - 1, has

    def distinct_aligned_counts(
        self, starts: np.ndarray, ends: np.ndarray, step: int
    ) -> np.ndarray | None:
        """Distinct timestamps per ticker (rows, in ``ticker_names`` order) and range (columns)
        that are multiples of ``step`` within [start, end), in the ts column's own unit.

        None when the tickers x time span does not fit one integer key (callers then skip
        whatever this count was to spare them).
        """
        rel, span = self._rel("last")
        key = _grouped_key(self.codes, rel, span)
        if key is None:
            return None
        rows = self.by_ticker_ts
        keep = self.ts_valid[rows] & (self.ts_raw[rows] % step == 0)
        keys = key[rows][keep]
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))[: len(keys)]]
        codes = np.arange(len(self.ticker_names), dtype=np.int64)[:, None] * span
        lo = np.clip(np.asarray(starts, dtype=np.int64) - self.ts_min + 1, 1, span - 1)
        hi = np.clip(np.asarray(ends, dtype=np.int64) - self.ts_min + 1, 1, span - 1)
        return np.searchsorted(keys, codes + hi[None, :]) - np.searchsorted(keys, codes + lo[None, :])

    def ts_array(self, values: np.ndarray) -> pa.Array:
        """Integer timestamps as an Arrow array of the bars' own ts type (unit and zone)."""
        return pa.array(values.astype(np.int64), type=pa.int64()).cast(self.ts_type)
