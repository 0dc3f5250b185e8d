"""Whole-partition Parquet writes of trading-day tables, shared by the IO manager and silver.

The IO manager writes the frame an asset returns; the silver step writes its output itself,
one chunk of trading days at a time, so that a year-long single-run backfill never holds the
whole window in memory (see :mod:`finks_assets.assets.silver_chunks`). Both go through
:func:`write_partitions`, so the files, their layout and their row order are the same either
way. What was written is described by a small :class:`WrittenPartitions`, which is what the
silver step hands the IO manager instead of a frame.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from finks_assets.lake.layout import dataset_partition_dir
from finks_assets.lake.store import LakeStore


@dataclass
class WrittenPartitions:
    """Partitions already in the lake: rows per ``YYYY-MM-DD`` key and the Arrow schema.

    The schema is what Glue registers (aws mode); the row counts feed the output metadata.
    """

    rows: dict[str, int] = field(default_factory=dict)
    schema: pa.Schema | None = None

    def add(self, other: WrittenPartitions) -> None:
        """Fold in a later write of other partitions (the first written schema is kept)."""
        self.rows.update(other.rows)
        if self.schema is None:
            self.schema = other.schema


def rows_by_partition(trade_dates: pd.Series) -> dict[str, np.ndarray]:
    """Row positions per ``YYYY-MM-DD`` key, in row order: one sort, not one mask per day.

    A backfill hands over hundreds of days in one frame, so a boolean mask per partition would
    cost O(days x rows).
    """
    codes, uniques = pd.factorize(pd.to_datetime(trade_dates), sort=False)
    if (codes < 0).any():
        raise ValueError(f"{int((codes < 0).sum())} row(s) have no trade_date")
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    return {
        pd.Timestamp(day).date().isoformat(): order[bounds[i]:bounds[i + 1]]
        for i, day in enumerate(uniques)
    }


def frame_to_table(frame: pd.DataFrame) -> pa.Table:
    """The frame as the lake stores it: ``trade_date`` is the partition directory, not a column."""
    return pa.Table.from_pandas(frame.drop(columns=["trade_date"]), preserve_index=False)


def write_partitions(
    store: LakeStore, layer: str, dataset: str, frame: pd.DataFrame, keys: Iterable[str],
    schema: pa.Schema | None = None,
) -> WrittenPartitions:
    """Replace each partition of ``keys`` with the frame's rows of that ``trade_date``.

    A key without rows (an exchange holiday) still gets an empty file: "materialized, market
    closed" is different from "never materialized". The frame is converted to Arrow once, so an
    empty day keeps the real column types. ``schema``, when given, is the table's schema for
    the run (a later chunk is cast to the first chunk's), so every partition reads the same.
    """
    keys = list(keys)
    positions = rows_by_partition(frame["trade_date"])
    unexpected = sorted(set(positions) - set(keys))
    if unexpected:
        raise ValueError(
            f"{layer}/{dataset} produced rows for trade dates outside the "
            f"run's partitions: {unexpected[:5]}"
        )
    table = frame_to_table(frame)
    if schema is not None and not table.schema.equals(schema, check_metadata=False):
        table = table.cast(schema)
    written = WrittenPartitions(schema=table.schema)
    for key in keys:
        rows = positions.get(key)
        part = table.take(rows) if rows is not None else table.slice(0, 0)
        store.replace_partition(dataset_partition_dir(layer, dataset, key), part)
        written.rows[key] = part.num_rows
    return written


def write_empty_partitions(
    store: LakeStore, layer: str, dataset: str, schema: pa.Schema, keys: Iterable[str]
) -> WrittenPartitions:
    """An empty file with ``schema`` for each key ("materialized, nothing in it")."""
    empty = schema.empty_table()
    written = WrittenPartitions(schema=schema)
    for key in keys:
        store.replace_partition(dataset_partition_dir(layer, dataset, key), empty)
        written.rows[key] = 0
    return written
