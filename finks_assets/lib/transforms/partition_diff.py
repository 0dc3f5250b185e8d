"""Whether a partition about to be written equals the one the lake already holds.

Writes replace whole partitions and are idempotent, so rewriting an unchanged partition is
harmless for readers but not free: it costs the write, moves the file's mtime, and -- the point
here -- makes Dagster (and everything downstream of it) believe the day changed. The restatement
re-check re-fetches days that almost never change; comparing first lets silver rewrite and
materialize only the days whose rows differ, so gold is rebuilt for those days alone.

Columns named in ``ignore`` are left out of the comparison: silver's ``ingested_at`` is the
fetch time of each winning bar, which a re-fetch moves even when every value is the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from finks_assets.lib.lake.layout import partition_dir
from finks_assets.lib.lake.store import LakeStore

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


def held_partition(store: LakeStore, layer: str, dataset: str, day: dt.date | str
                   ) -> pa.Table | None:
    """The partition's current table (all its files), or None if it was never written."""
    import pyarrow as pa
    files = store.list_parquet(partition_dir(layer, dataset, "trade_date", day))
    if not files:
        return None
    return pa.concat_tables([store.read_parquet(f) for f in files], promote_options="default")


def same_as_held(
    store: LakeStore, layer: str, dataset: str, day: dt.date | str, frame: pd.DataFrame,
    ignore: Iterable[str] = (), by: str = "trade_date", held: pa.Table | None = None,
) -> bool:
    """True when ``frame`` (the day's rows, ``by`` column included or not) holds the same rows,
    in the same order and with the same values, as the partition already written.

    NaN equals NaN here (a quarantined null bar stays the same bar). A schema change counts as a
    change, so a new column is always written out. ``held``: the partition, if already read.
    """
    import pyarrow as pa
    held = held if held is not None else held_partition(store, layer, dataset, day)
    if held is None:
        return False
    skip = {*ignore, by}
    new = pa.Table.from_pandas(frame.drop(columns=[c for c in skip if c in frame.columns]),
                               preserve_index=False)
    old = held.drop_columns([c for c in skip if c in held.column_names])
    if old.num_rows != new.num_rows or old.column_names != new.column_names:
        return False
    try:
        new = new.cast(old.schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
        return False
    return old.to_pandas().equals(new.to_pandas())
