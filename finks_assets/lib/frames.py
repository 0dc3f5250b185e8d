"""Helpers for modules that must import without pandas.

The code server imports most of ``lib/`` to build the definitions but runs none of the data
code, so those modules import pandas, NumPy, PyArrow and DuckDB inside the functions that use
them (about 0.5 s of every definitions load, and so of every launched run's start).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def empty_frame() -> pd.DataFrame:
    """An empty frame: the ``default_factory`` of a dataclass field holding rows."""
    import pandas as pd

    return pd.DataFrame()


def concat_rows(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The frames' rows in order, with a fresh index. Empty frames are left out (their dtypes,
    often ``object`` for an empty read, would otherwise widen the others' columns) unless all
    are empty. ``frames`` must not be empty."""
    import pandas as pd

    rows = [f for f in frames if len(f)] or frames[:1]
    return rows[0].reset_index(drop=True) if len(rows) == 1 else pd.concat(rows, ignore_index=True)
