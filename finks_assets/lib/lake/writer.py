"""The one lake writer: every dataset -- Parquet tables, raw JSON payloads, HTML reports -- is
written here, atomically, and in aws mode registered in the Glue Data Catalog.

Atomic: a reader never sees a half-written file. Locally a file is written
under a ``.tmp-`` name in its final directory and renamed into place (rename is atomic on
POSIX); if the write fails the temp file is removed, and one a crash left behind is removed by
the next write into that directory once it is an hour old. On S3 one PUT (or a completed multipart
upload) is atomic by itself, so the object is written straight to its key (and no directory
marker is created). Readers skip ``.tmp-*`` names (``LakeStore.list_files``, dbt's ``[!.]*``).

Partitioned tables are replaced a whole partition at a time (``part-0.parquet``; any other file
in the partition is removed), so a re-run never duplicates rows. A partition key without rows
(an exchange holiday) still gets an empty file: "materialized, market closed" differs from
"never materialized". With a catalog (aws mode) the table and every partition written are
registered in Glue right after the write, so Athena and dbt-athena see them at once.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from finks_assets.lib.lake.glue import GlueCatalog
from finks_assets.lib.lake.layout import PARTITION_VALUE, partition_dir
from finks_assets.lib.lake.store import LakeStore

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

PARQUET_OPTIONS = {"row_group_size": 256_000, "compression": "zstd"}
# A temp file older than this belongs to no live writer (see _remove_stale_temp_files).
STALE_TEMP_SECONDS = 3600


@dataclass(frozen=True)
class WrittenPartitions:
    """Rows written per partition value (``YYYY-MM-DD`` or ticker) and the Arrow schema."""

    rows: dict[str, int]
    schema: pa.Schema


@dataclass(frozen=True)
class LakeWriter:
    store: LakeStore
    catalog: GlueCatalog | None = None  # aws mode only

    def write_bytes(self, relative: str, data: bytes) -> str:
        """Write ``data`` unchanged (a vendor payload as received); returns the full path."""
        def put(path: str) -> None:
            with self.store.filesystem.open_output_stream(path) as out:
                out.write(data)

        return self._atomic(relative, put)

    def write_text(self, relative: str, text: str) -> str:
        return self.write_bytes(relative, text.encode("utf-8"))

    def write_parquet(self, relative: str, table: pa.Table) -> str:
        import pyarrow.parquet as pq
        return self._atomic(relative, lambda path: pq.write_table(
            table, path, filesystem=self.store.filesystem, **PARQUET_OPTIONS))

    def write_partitions(self, layer: str, dataset: str, frame: pd.DataFrame,
                         keys: Iterable[str], by: str = "trade_date") -> WrittenPartitions:
        """Replace each partition of ``keys`` with the frame's rows whose ``by`` column
        (``trade_date`` or ``ticker``) holds that key; the column becomes the directory
        ``<by>=<key>``, not a column in the files. Rows outside ``keys`` are an error.

        The frame is converted to Arrow once, so every partition (an empty one included) has
        the same column types.
        """
        import pyarrow as pa
        normalise = PARTITION_VALUE[by]
        keys = [normalise(k) for k in keys]
        positions = _rows_by_key(frame[by], by)
        unexpected = sorted(set(positions) - set(keys))
        if unexpected:
            raise ValueError(f"{layer}/{dataset} has rows for {by} values outside the run's "
                             f"partitions: {unexpected[:5]}")
        table = pa.Table.from_pandas(frame.drop(columns=[by]), preserve_index=False)
        written = WrittenPartitions({}, table.schema)
        for key in keys:
            rows = positions.get(key)
            part = table.take(rows) if rows is not None else table.slice(0, 0)
            self._replace_partition(partition_dir(layer, dataset, by, key), part)
            written.rows[key] = part.num_rows
        # A write without rows may type columns as Arrow null; a Glue table created from it
        # would keep "string" for good, so only a typed write registers (no row is missed).
        typed = table.num_rows > 0 or not any(pa.types.is_null(f.type) for f in table.schema)
        if self.catalog is not None and keys and typed:
            self.catalog.register(
                f"{layer}_{dataset}", self.store.uri(f"{layer}/{dataset}") + "/", table.schema, by,
                {k: self.store.uri(partition_dir(layer, dataset, by, k)) + "/" for k in keys})
        return written

    def _replace_partition(self, relative_dir: str, table: pa.Table) -> None:
        written = self.write_parquet(f"{relative_dir}/part-0.parquet", table)
        for stray in self.store.list_parquet(relative_dir):
            if stray != written:
                self.store.filesystem.delete_file(stray)

    def _atomic(self, relative: str, write: Callable[[str], None]) -> str:
        final = self.store.path(relative)
        if not self.store.is_local:
            write(final)
            return final
        parent, name = final.rsplit("/", 1)
        self.store.filesystem.create_dir(parent, recursive=True)
        self._remove_stale_temp_files(parent)
        tmp = f"{parent}/.tmp-{uuid.uuid4().hex}-{name}"
        try:
            write(tmp)
            self.store.filesystem.move(tmp, final)
        except BaseException:
            try:
                self.store.filesystem.delete_file(tmp)
            except OSError:
                pass  # never created
            raise
        return final

    def _remove_stale_temp_files(self, directory: str) -> None:
        """Delete ``.tmp-*`` files a crashed writer left in ``directory`` (local disk only).

        A process killed between write and rename leaves its temp file behind; readers skip it,
        but nothing else would ever remove it. The next write into the same directory does.
        Only files untouched for :data:`STALE_TEMP_SECONDS` go: a live writer's temp file
        (another run writing the same directory) is younger, as writing keeps touching it.
        """
        import pyarrow.fs as pafs
        cutoff = time.time() - STALE_TEMP_SECONDS
        selector = pafs.FileSelector(directory, allow_not_found=True)
        for info in self.store.filesystem.get_file_info(selector):
            if (info.type == pafs.FileType.File and info.base_name.startswith(".tmp-")
                    and info.mtime is not None and info.mtime.timestamp() < cutoff):
                with contextlib.suppress(FileNotFoundError):  # another writer's sweep won
                    self.store.filesystem.delete_file(info.path)


def _rows_by_key(values: pd.Series, by: str) -> dict[str, np.ndarray]:
    """Row positions per partition key, in row order: one sort, not one mask per key (a
    partition run holds up to ``FINKS_PARTITIONS_PER_RUN`` days of a few hundred tickers)."""
    import numpy as np
    import pandas as pd
    if by == "trade_date":
        values = pd.to_datetime(values)
    codes, uniques = pd.factorize(values, sort=False)
    if (codes < 0).any():
        raise ValueError(f"{int((codes < 0).sum())} row(s) have no {by}")
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    key = (lambda u: pd.Timestamp(u).date().isoformat()) if by == "trade_date" else PARTITION_VALUE[by]
    return {key(u): order[bounds[i]:bounds[i + 1]] for i, u in enumerate(uniques)}
