"""Time one day's VWAP query over a set of files: the "before/after compaction" figure.

The same query (read the files, VWAP per ticker) over the day's micro-batches and over the
compacted silver file, through the lake's own filesystem (local or S3), so the figure shows
what the object count costs a reader, not a difference between two query engines.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pyarrow.compute as pc
import pyarrow.dataset as ds

from finks_assets.lib.lake.store import LakeStore


@dataclass(frozen=True)
class ScanTiming:
    files: int
    rows: int
    seconds: float


def time_vwap_scan(store: LakeStore, paths: list[str], repeats: int = 3) -> ScanTiming:
    """Best of ``repeats`` wall times to read ``paths`` and compute VWAP per ticker."""
    best, rows = float("inf"), 0
    for _ in range(repeats):
        started = time.perf_counter()
        table = ds.dataset(paths, filesystem=store.filesystem, format="parquet").to_table(
            columns=["_ticker", "close", "volume"] if _is_payload(store, paths)
            else ["ticker", "close", "volume"])
        ticker = table.column(0)
        notional = pc.multiply(table.column("close"), pc.cast(table.column("volume"), "double"))
        table = table.append_column("notional", notional).rename_columns(
            ["ticker", "close", "volume", "notional"])
        table.group_by("ticker").aggregate([("notional", "sum"), ("volume", "sum")])
        best, rows = min(best, time.perf_counter() - started), len(ticker)
    return ScanTiming(len(paths), rows, best)


def _is_payload(store: LakeStore, paths: list[str]) -> bool:
    """Micro-batches carry the vendor's columns (``_ticker``); silver has ``ticker``."""
    if not paths:
        return False
    schema = ds.dataset(paths[:1], filesystem=store.filesystem, format="parquet").schema
    return "_ticker" in schema.names
