"""The one (ticker, ts) ordering the sequence checks share, computed once per run.

Duplicates, stale prints, outlier jumps and complete sessions all look at a bar next to its
neighbours within a ticker. Rather than each check sorting the window again, every bar
carries its place in the ordering and its predecessor's ts and close, as columns of the
checks' ``bars`` table, and the checks are plain SQL over them.

The sort stays in NumPy: one ``np.lexsort`` plus loading the columns into DuckDB took
1.5-1.7 s CPU (4.4-4.6 s wall) on the 2M-bar window, against 3.7-4.4 s CPU (10.5-12.6 s wall)
for the same columns from DuckDB's ``row_number()``/``lag()`` windows: 2.4-2.6x CPU, 2.3-2.9x
wall (``python -m bench.checks_bench``, two runs, medians of 3 rounds, loaded 2-core machine).

Semantics are SQL's: a NULL ticker is a partition of its own, NULL timestamps sort last
within a ticker, and ties keep their storage order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa



def ticker_codes(bars: pa.Table) -> np.ndarray:
    """An integer per ticker (NULL included, as one more), in order of first appearance."""
    import pyarrow.compute as pc
    tickers = bars.column("ticker").combine_chunks().dictionary_encode()
    return pc.fill_null(tickers.indices, len(tickers.dictionary)).to_numpy(zero_copy_only=False)


def with_ordering(bars: pa.Table) -> pa.Table:
    """``bars`` (in storage order) with, per bar: ``pos``, its place in the (ticker, ts) order
    (0, 1, ...); ``ticker_pos``, its place within its ticker (1, 2, ...); ``prev_ts`` and
    ``prev_close``, those of the bar just before it in its ticker (NULL for the first)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    codes = ticker_codes(bars)
    ts = bars.column("ts").combine_chunks()
    no_ts = ts.is_null().to_numpy(zero_copy_only=False)
    ts_ints = pc.fill_null(ts.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
    rows = np.lexsort((ts_ints, no_ts, codes))  # stable: ties keep storage order
    starts = np.ones(len(rows), dtype=bool)
    starts[1:] = codes[rows[1:]] != codes[rows[:-1]]
    ordered = np.arange(len(rows))
    ticker_pos = ordered - np.maximum.accumulate(np.where(starts, ordered, 0)) + 1
    pos = np.empty_like(rows)
    pos[rows] = ordered  # back to storage order
    previous = np.empty_like(rows)
    previous[1:] = rows[:-1]
    previous = pa.array(previous, mask=starts).take(pa.array(pos))  # a NULL index takes NULL
    return bars.append_column("pos", pa.array(pos)).append_column(
        "ticker_pos", pa.array(ticker_pos[pos])
    ).append_column("prev_ts", ts.take(previous)).append_column(
        "prev_close", bars.column("close").combine_chunks().take(previous)
    )
