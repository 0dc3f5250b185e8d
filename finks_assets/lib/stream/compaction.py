"""End-of-day compaction: a day's micro-batches -> one bronze payload -> the normal silver day.

Steps, each leaving something readable if the process dies right after it (``kill -9``):

1. Read the day's micro-batches, plus any compacted stream payload an earlier, interrupted
   run left in bronze, and drop exact duplicate rows: a re-run after a crash rebuilds the same
   payload from what is left.
2. Write them as ONE bronze payload (``bronze/.../trade_date=D/<fetch time>_stream.parquet``,
   the fetch time being the newest ``_fetched_at``) -- so bronze stays the complete, append-
   only record and a later silver re-run of the day still sees the streamed bars.
   Micro-batches: still there. Silver: not yet.
3. Silver for the day through the *same* code as the batch asset: ``read_bronze`` ->
   ``clean_read`` -> ``run_silver_gate`` -> ``LakeWriter.write_partitions`` (one file per day,
   sorted by ticker and ts, replaced atomically). A day the gate holds is not written and
   nothing is removed.
4. Verify: the silver file re-read has the rows silver wrote, and every streamed
   (ticker, ts) is in silver or in quarantine.
5. Only then delete the micro-batches. A crash half-way leaves some of them; the re-run
   merges them into the same payload again (step 1), so nothing is lost or doubled.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from finks_assets.lib.lake.layout import bronze_partition_dir, dataset_partition_dir, fetch_id
from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.lake.writer import LakeWriter
from finks_assets.lib.logging import get_logger
from finks_assets.lib.quality.silver_gate import SilverGate, run_silver_gate
from finks_assets.lib.quality.thresholds import BarQualityThresholds
from finks_assets.lib.sources.base import BarSource
from finks_assets.lib.stream.layout import parse_micro_batch, stream_day_dir
from finks_assets.lib.stream.replay import LINEAGE_FETCHED_AT
from finks_assets.lib.transforms.bronze_audit import BARS_DATASET
from finks_assets.lib.transforms.bronze_reader import read_bronze
from finks_assets.lib.transforms.silver_bars import SilverResult, clean_read

if TYPE_CHECKING:
    import pandas as pd

log = get_logger("stream.compaction")
STREAM_FETCH = "stream"  # the run-id part of a compacted payload's name: <time>_stream
# What a compacted day is compared on: the bar, not when it was fetched (ingested_at differs
# between a streamed and a batch-fetched copy of the same bar by construction).
DIGEST_COLUMNS = ["ticker", "ts", "open", "high", "low", "close", "volume", "source"]


class CompactionError(RuntimeError):
    """Verification failed; the micro-batches were kept."""


@dataclass
class CompactionResult:
    day: dt.date
    status: str  # "compacted" | "nothing_to_do" | "held"
    micro_batches: int = 0
    stream_rows: int = 0
    bronze_path: str | None = None
    silver_rows: int = 0
    quarantine_rows: int = 0
    removed: int = 0
    held: dict[str, list[str]] = field(default_factory=dict)
    gate: SilverGate | None = None
    silver: SilverResult | None = None


def micro_batch_paths(store: LakeStore, source: str, day: dt.date) -> list[str]:
    """The day's micro-batch objects, in time order (strays with other names are left alone)."""
    return [p for p in store.list_parquet(stream_day_dir(source, day)) if parse_micro_batch(p)]


def compacted_payload_paths(store: LakeStore, source: str, day: dt.date) -> list[str]:
    return [p for p in store.list_parquet(bronze_partition_dir(source, BARS_DATASET, day))
            if p.endswith(f"_{STREAM_FETCH}.parquet")]


def compact_day(
    store: LakeStore, writer: LakeWriter, source: BarSource, day: dt.date,
    thresholds: BarQualityThresholds, on_step: Callable[[str], None] | None = None,
) -> CompactionResult:
    """Compact ``day``'s micro-batches into silver (see the module docstring for the steps).

    ``on_step`` is called after each durable step ("bronze_written", "silver_written",
    "micro_batch_deleted" per object): the crash tests kill the process there.
    """
    import pandas as pd
    import pyarrow as pa
    step = on_step or (lambda _name: None)
    batches = micro_batch_paths(store, source.name, day)
    if not batches:
        return CompactionResult(day, "nothing_to_do")
    tables = [store.read_parquet(p) for p in compacted_payload_paths(store, source.name, day)]
    tables += [store.read_parquet(p) for p in batches]
    payload = (pa.concat_tables(tables, promote_options="permissive").to_pandas()
               .drop_duplicates(ignore_index=True))
    fetched = pd.to_datetime(payload[LINEAGE_FETCHED_AT], utc=True).max()
    bronze_path = writer.write_parquet(
        f"{bronze_partition_dir(source.name, BARS_DATASET, day)}/"
        f"{fetch_id(fetched, STREAM_FETCH)}.parquet",
        pa.Table.from_pandas(payload, preserve_index=False))
    step("bronze_written")

    read = read_bronze(store, source, [day])
    result = clean_read(read, [day])
    gate = run_silver_gate(result, [day], store, writer, thresholds)
    outcome = CompactionResult(day, "held", len(batches), len(payload), bronze_path,
                               held=gate.held, gate=gate, silver=result)
    if gate.held:
        log.warning("stream compaction %s held by the silver gate %s; micro-batches kept",
                    day, gate.held)
        return outcome
    key = day.isoformat()
    written = writer.write_partitions("silver", "bars_1m", result.bars, [key])
    quarantined = writer.write_partitions("silver", "bars_1m_quarantine", result.quarantine, [key])
    step("silver_written")

    _verify(store, source, day, payload, result, written.rows[key])
    for path in batches:
        store.filesystem.delete_file(path)
        outcome.removed += 1
        step("micro_batch_deleted")
    outcome.status = "compacted"
    outcome.silver_rows, outcome.quarantine_rows = written.rows[key], quarantined.rows[key]
    log.info("stream compaction %s: %d micro-batches, %d rows -> silver %d, quarantine %d",
             day, len(batches), len(payload), outcome.silver_rows, outcome.quarantine_rows)
    return outcome


def _verify(store: LakeStore, source: BarSource, day: dt.date, payload: pd.DataFrame,
            result: SilverResult, expected_rows: int) -> None:
    """Row counts match and every streamed bar is accounted for, else CompactionError."""
    import pandas as pd
    silver = read_silver_day(store, day)
    if len(silver) != expected_rows or len(silver) != len(result.bars):
        raise CompactionError(f"silver {day} holds {len(silver)} rows, expected {expected_rows}")
    streamed = source.to_canonical(payload)[["ticker", "ts"]].drop_duplicates()
    streamed_keys = set(zip(streamed["ticker"].astype(str),
                            pd.to_datetime(streamed["ts"], utc=True), strict=True))
    kept = set(zip(silver["ticker"].astype(str), pd.to_datetime(silver["ts"], utc=True),
                   strict=True))
    q = result.quarantine
    kept |= set(zip(q["ticker"].astype(str), pd.to_datetime(q["ts"], utc=True), strict=True))
    missing = streamed_keys - kept
    if missing:
        raise CompactionError(f"{len(missing)} streamed bar(s) of {day} are neither in silver "
                              f"nor in quarantine, e.g. {sorted(missing)[:3]}")


def read_silver_day(store: LakeStore, day: dt.date) -> pd.DataFrame:
    import pandas as pd
    import pyarrow as pa
    paths = store.list_parquet(dataset_partition_dir("silver", "bars_1m", day))
    if not paths:
        return pd.DataFrame(columns=DIGEST_COLUMNS)
    return pa.concat_tables([store.read_parquet(p) for p in paths]).to_pandas()


def silver_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a silver day's bars on :data:`DIGEST_COLUMNS`, in (ticker, ts) order."""
    import pandas as pd
    bars = frame[DIGEST_COLUMNS].sort_values(["ticker", "ts"], ignore_index=True)
    bars = bars.assign(ticker=bars["ticker"].astype(str), source=bars["source"].astype(str),
                       ts=pd.to_datetime(bars["ts"], utc=True).dt.as_unit("us"),
                       volume=bars["volume"].astype("int64"))
    hashed = pd.util.hash_pandas_object(bars, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()

