"""Silver for a run's trading days, built chunk by chunk so memory is bounded by a chunk.

A single-run backfill of a year (design decision 2) used to read, clean, check and write the
whole window at once, holding it in memory several times over: about 0.8 KB per bar, 16 GB
for 200 tickers x 252 sessions. Here the run's days are cut into chunks of
``sessions_per_chunk`` partitions, and each chunk, in calendar order, is read from bronze,
cleaned, checked (with its validation reports written) and written to the lake before the
next one is read. Between chunks only small summaries stay: counts, the written partitions'
row counts, and each check's outcome with a bounded sample of offenders
(:mod:`finks_assets.quality.gate_merge`).

Because earlier chunks are in the lake before later ones are checked, the row-count check of
a later chunk reads them as its trailing history, exactly as separate daily runs would. Two
checks look across days and so see a chunk boundary like a run boundary: ``outlier_jumps``
has no previous close for a chunk's first bar, and a ``stale_prices`` run spanning two chunks
is measured in two pieces. A ticker with no bars for a whole day counts as 0 bars in the
row-count history of its own chunk but is absent from the silver history a later chunk reads.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg
import pandas as pd
import pyarrow as pa
from pydantic import Field

from finks_assets import market_calendar
from finks_assets.assets.bronze import BARS_DATASET
from finks_assets.lake.landing import landing_partition_dir
from finks_assets.lake.layout import audit_partition_dir, bronze_partition_dir
from finks_assets.lake.partition_writes import (
    WrittenPartitions,
    write_empty_partitions,
    write_partitions,
)
from finks_assets.lake.store import LakeStore
from finks_assets.quality.gate_merge import compact_gate, merge_gates
from finks_assets.quality.silver_gate import SilverGate, silver_quality_metadata
from finks_assets.quality.thresholds import BarQualityThresholds
from finks_assets.sources.base import BarSource
from finks_assets.transforms.silver_bars import SilverResult, canonical_from_bronze
from finks_assets.transforms.superseded_fetches import SkippedFetches, superseded_fetches

CleanBars = Callable[[pd.DataFrame, list[dt.date]], SilverResult]


class SilverChunking(dg.Config):
    """Run config of the silver step: how many trading days it holds in memory at once."""

    sessions_per_chunk: int = Field(
        21, ge=1,
        description="Trading-day partitions read, checked and written together (21 ~ a month;"
                    " memory grows with this times the tickers, not with the run's window).",
    )


def read_bronze_bars(
    store: LakeStore, source: BarSource, days: list[dt.date]
) -> tuple[pd.DataFrame, int]:
    """All bronze payloads of ``source`` for ``days``, mapped to canonical columns, and the
    number of rows in fetches left unread because a newer fetch replaces all of them.

    Files are read as Arrow and mapped in one pass for the whole chunk (see
    ``canonical_from_bronze``), not converted to pandas one by one.
    """
    tables, file_days, skipped_rows = [], [], 0
    for day in days:
        fetches = store.list_parquet(bronze_partition_dir(source.name, BARS_DATASET, day))
        skipped = SkippedFetches.none() if len(fetches) < 2 else superseded_fetches(
            read_day_audit(store, source.name, day), market_calendar.session(day),
            {_stem(path) for path in fetches},
        )
        skipped_rows += skipped.rows
        # Finks' own fetches, then payloads a vendor or person dropped under landing/ (S3 sensor).
        landed = store.list_parquet(landing_partition_dir(source.name, BARS_DATASET, day))
        for path in [p for p in fetches if _stem(p) not in skipped.names] + landed:
            table = store.read_parquet(path)
            if table.num_rows:
                tables.append(table)
                file_days.append(day)
    return canonical_from_bronze(source, tables, file_days), skipped_rows


def read_day_audit(store: LakeStore, source: str, day: dt.date) -> pd.DataFrame:
    """The day's ingestion audit records, each tagged with its fetch (the bronze file stem)."""
    frames = [
        store.read_parquet(path).to_pandas().assign(fetch=_stem(path))
        for path in store.list_parquet(audit_partition_dir(source, day))
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _stem(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(".parquet")


def chunks_of(days: list[dt.date], size: int) -> list[list[dt.date]]:
    """``days`` (in calendar order) cut into consecutive runs of at most ``size`` days."""
    ordered = sorted(days)
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]


class ChunkedPartitionWriter:
    """Writes one dataset's partitions chunk by chunk, all with the run's one schema.

    A chunk with no rows at all (only holidays, or nothing quarantined) would type its text
    columns as Arrow ``null``; its empty files wait until a chunk with rows fixes the schema,
    so every file of the run reads the same as when the run was written in one piece.
    """

    def __init__(self, store: LakeStore, layer: str, dataset: str) -> None:
        self.store, self.layer, self.dataset = store, layer, dataset
        self.written = WrittenPartitions()
        self._pending: list[str] = []
        self._fallback: pa.Schema | None = None  # the best schema an empty chunk offered

    def write(self, frame: pd.DataFrame, keys: list[str]) -> None:
        if len(frame) == 0 and self.written.schema is None:
            self._pending.extend(keys)
            schema = pa.Schema.from_pandas(frame.drop(columns=["trade_date"]), preserve_index=False)
            if self._fallback is None or _null_fields(schema) < _null_fields(self._fallback):
                self._fallback = schema
            return
        self.written.add(write_partitions(self.store, self.layer, self.dataset, frame, keys,
                                          schema=self.written.schema))
        self._flush(self.written.schema)

    def finish(self) -> WrittenPartitions:
        """Write what is still pending (a run with no rows at all) and describe the run."""
        if self._pending:
            self._flush(self._fallback)
        return self.written

    def _flush(self, schema: pa.Schema) -> None:
        if self._pending:
            self.written.add(write_empty_partitions(
                self.store, self.layer, self.dataset, schema, self._pending))
            self._pending = []


def _null_fields(schema: pa.Schema) -> int:
    return sum(1 for f in schema if pa.types.is_null(f.type))


@dataclass
class SilverRun:
    """What a whole run of the silver step produced, kept small (no frames)."""

    bars: WrittenPartitions
    quarantine: WrittenPartitions
    gate: SilverGate
    bronze_rows: int = 0
    superseded: int = 0
    tickers: set[str] = field(default_factory=set)
    quarantine_counts: Counter = field(default_factory=Counter)


def build_silver(
    context: dg.AssetExecutionContext,
    store: LakeStore,
    source: BarSource,
    days: list[dt.date],
    thresholds: BarQualityThresholds,
    sessions_per_chunk: int,
    clean: CleanBars,
) -> SilverRun:
    """Bronze -> silver (+ quarantine, checks, reports) for ``days``, one chunk at a time.

    ``clean`` is the bronze -> silver transform (``clean_bars``), passed in by the asset so a
    test can swap it where the asset looks it up.
    """
    bars_out = ChunkedPartitionWriter(store, "silver", "bars_1m")
    quarantine_out = ChunkedPartitionWriter(store, "silver", "bars_1m_quarantine")
    gates: list[SilverGate] = []
    totals = Counter()
    tickers: set[str] = set()
    reasons: Counter = Counter()
    chunks = chunks_of(days, sessions_per_chunk)
    for number, chunk in enumerate(chunks, start=1):
        started = time.perf_counter()
        bronze, unread = read_bronze_bars(store, source, chunk)
        result = clean(bronze, chunk)
        result.superseded += unread
        gates.append(compact_gate(silver_quality_metadata(result, chunk, store, thresholds)))
        keys = [day.isoformat() for day in chunk]
        bars_out.write(result.bars, keys)
        quarantine_out.write(result.quarantine, keys)
        counts = result.quarantine_counts()
        totals.update(bronze=len(bronze) + unread, bars=len(result.bars),
                      superseded=result.superseded)
        tickers.update(result.bars["ticker"].astype(str).unique())
        reasons.update(counts)
        context.log.info(
            f"silver chunk {number}/{len(chunks)} {chunk[0]}..{chunk[-1]} ({len(chunk)} days): "
            f"{len(bronze) + unread} bronze rows ({unread} in fetches a newer one replaces,"
            f" not read) -> {len(result.bars)} bars, "
            f"{len(result.quarantine)} quarantined {counts}, {result.superseded} superseded, "
            f"held {sorted(gates[-1].held) or 'none'}, {time.perf_counter() - started:.1f} s"
        )
        del bronze, result  # the chunk's frames go before the next chunk is read
    return SilverRun(
        bars=bars_out.finish(), quarantine=quarantine_out.finish(), gate=merge_gates(gates),
        bronze_rows=totals["bronze"], superseded=totals["superseded"], tickers=tickers,
        quarantine_counts=Counter(dict(sorted(reasons.items()))),
    )
