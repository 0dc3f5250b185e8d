"""The one (ticker, ts) ordering the sequence checks share, as a DuckDB temp table.

Stale prints, outlier jumps and gaps look at a bar next to its neighbours within a ticker.
Each check sorting the window again cost ~1 s per million bars; ``bars_ordered`` is sorted
once per run (``CheckDB.ordered``) and the checks read its ``pos`` and ``prev_*`` columns.

Semantics: a NULL ticker is a partition of its own, NULL timestamps sort last within a ticker
(DuckDB's default), and exact duplicates keep their storage order (``_row``), so every run of
the checks gives the same rows in the same order.
"""

ORDERED_SQL = """
select _row, ticker, ts, trade_date, close, volume,
       row_number() over w as pos,
       lag(close) over w as prev_close
from bars
window w as (partition by ticker order by ts, _row)
"""
