"""Serve gold from a private, read-only snapshot of the warehouse file.

Why a snapshot: DuckDB allows one writer per database file, and a process that has the file
open -- even ``read_only`` -- holds a lock that makes a writer's ``connect`` fail at once. An
API that kept a connection to ``warehouse.duckdb`` would therefore break the next Dagster/dbt
run, and one that opened it per request would fail while dbt writes. So the API never opens the
warehouse with DuckDB at all:

* It copies the file (and its ``.wal``, if any) into ``<data_dir>/api/snapshots/`` and opens the
  copy read-only. Copying takes no lock, so a writer can always open the warehouse.
* A copy is only taken when no other process holds a DuckDB lock on the warehouse (checked with
  ``fcntl(F_GETLK)``, which asks without locking) and is kept only if the stamp (below) did not
  change and no lock appeared while copying. Otherwise the API keeps serving the previous
  snapshot and tries again later: readers see the last complete state, never a half-written one.
* Freshness is checked with a ``stat`` of the file and of its ``.wal`` at most every
  ``refresh_interval`` seconds. The WAL is part of the stamp because a committed transaction
  may live only there: a writer that dies (or simply has not checkpointed yet) leaves the main
  file untouched. A new snapshot is swapped in atomically and the old one is closed and deleted
  once no request uses it any more.
* A warehouse path that cannot be copied (a directory, no permission) is logged and treated
  like a missing warehouse: 503 until it is fixed. Clients never see the server's paths.
* A snapshot's file name starts with the warehouse's catalog name (``warehouse.<id>.duckdb``):
  DuckDB names a database after the first dot-separated part of its file name, and dbt-duckdb
  writes views with catalog-qualified references (``warehouse.gold.fct_daily_bars``), so a
  copy under another catalog name could not read a single gold view.

Limitation: POSIX record locks belong to a process: ``F_GETLK`` cannot see locks held by
*this* process, and closing any descriptor of the file (the probe, the copy) drops them. So the
API process must not also hold DuckDB connections to the warehouse (``finks-api serve`` never
does; tests that share a process only open it briefly).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import stat
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from finks_api.datasets import Schema, freshness, table_schema

log = logging.getLogger(__name__)

_FLOCK_FORMAT = "hhqqi"  # struct flock on Linux/x86_64 and aarch64: type, whence, start, len, pid


NOT_READY = "no readable warehouse yet (run `make demo`)"  # clients never see server paths

Stamp = tuple[int, int, int, int, int]  # main file (mtime_ns, size, inode), WAL (mtime_ns, size)


class WarehouseUnavailable(RuntimeError):
    """There is no usable snapshot: the warehouse does not exist yet or was never copyable."""


class NotAWarehouseFile(OSError):
    """The warehouse path exists but is not a regular file (e.g. a directory)."""


# Snapshot files: "<catalog>.<ns>-<pid>-<thread>.duckdb" (and the older "warehouse-<ns>-<pid>-...").
_SNAPSHOT_NAME = re.compile(r"[^.]+[.-]\d+-(?P<pid>\d+)-\d+\.duckdb(\.wal)?")


def catalog_name(path: Path) -> str:
    """The catalog DuckDB gives a database file: the first non-empty dot-separated part."""
    return path.name.lstrip(".").split(".")[0]


def wal_path(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _stamp(path: Path) -> Stamp:
    """What identifies the warehouse's committed state: the file and its WAL (absent: 0, 0)."""
    st = path.stat()
    if not stat.S_ISREG(st.st_mode):
        raise NotAWarehouseFile(f"warehouse path {path} is not a regular file")
    try:
        wal = wal_path(path).stat()
        wal_part = (wal.st_mtime_ns, wal.st_size)
    except FileNotFoundError:
        wal_part = (0, 0)
    return (st.st_mtime_ns, st.st_size, st.st_ino, *wal_part)


def modified_ns(stamp: Stamp) -> int:
    """When the warehouse last changed: the later of the file's and the WAL's mtime."""
    return max(stamp[0], stamp[3])


def held_by_another_process(path: Path) -> bool:
    """Whether some other process holds a DuckDB (fcntl) lock on ``path``; takes no lock."""
    fd = os.open(path, os.O_RDONLY)
    try:
        probe = struct.pack(_FLOCK_FORMAT, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, probe)
        return struct.unpack(_FLOCK_FORMAT, answer)[0] != fcntl.F_UNLCK
    finally:
        os.close(fd)


@dataclass(eq=False)
class Snapshot:
    """One immutable copy of the warehouse with a read-only connection; ref-counted."""

    path: Path
    source_stamp: Stamp
    taken_at: float
    connection: duckdb.DuckDBPyConnection
    users: int = 0
    retired: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _schemas: dict[str, Schema] = field(default_factory=dict)
    _freshness: list[dict[str, object]] | None = None

    def schema(self, table: str, cur: duckdb.DuckDBPyConnection) -> Schema:
        """A gold table's (column, type) list, looked up once per snapshot (it is immutable)."""
        if table not in self._schemas:
            self._schemas[table] = table_schema(cur, table)
        return self._schemas[table]

    def freshness(self, cur: duckdb.DuckDBPyConnection) -> list[dict[str, object]]:
        """Latest trade_date and row count per gold table, counted once per snapshot.

        The counts scan every table: under the mixed load profile (bench/api_load.py, 20
        clients) ``/v1/freshness`` had a p50 of 84 ms, the slowest route, for an answer that
        only changes when a new snapshot is swapped in.
        """
        if self._freshness is None:
            self._freshness = freshness(cur)
        return self._freshness

    def acquire(self) -> None:
        with self._lock:
            self.users += 1

    def release(self) -> None:
        with self._lock:
            self.users -= 1
            done = self.retired and self.users == 0
        if done:
            self.close()

    def retire(self) -> None:
        with self._lock:
            self.retired = True
            done = self.users == 0
        if done:
            self.close()

    def close(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self.connection.close()
        for leftover in (self.path, wal_path(self.path)):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


class WarehouseSnapshots:
    """Hands out cursors on the newest complete snapshot of ``warehouse_path``."""

    def __init__(
        self, warehouse_path: Path, snapshot_dir: Path, refresh_interval: float = 1.0
    ) -> None:
        self.warehouse_path = Path(warehouse_path)
        self.snapshot_dir = Path(snapshot_dir)
        self.refresh_interval = refresh_interval
        self._current: Snapshot | None = None
        self._checked_at = float("-inf")
        self._swap_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._last_problem: str | None = None  # logged once per distinct problem, not per request

    @property
    def catalog(self) -> str:
        """The warehouse's DuckDB catalog name, which its views name (see the module docs)."""
        return catalog_name(self.warehouse_path)

    def remove_orphans(self) -> None:
        """Delete snapshots left by API processes that died (their pid is in the name)."""
        for path in self.snapshot_dir.glob("*.duckdb*"):
            match = _SNAPSHOT_NAME.fullmatch(path.name)
            if match is None:
                continue
            pid = int(match["pid"])
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                path.unlink(missing_ok=True)
            except PermissionError:
                pass

    @property
    def current(self) -> Snapshot | None:
        return self._current

    def maybe_refresh(self) -> None:
        """Take a new snapshot if the warehouse changed; never blocks on another refresher."""
        now = time.monotonic()
        if self._current is not None and now - self._checked_at < self.refresh_interval:
            return
        if not self._refresh_lock.acquire(blocking=self._current is None):
            return  # another thread is refreshing; keep serving the current snapshot
        try:
            self._checked_at = time.monotonic()
            self._refresh()
        finally:
            self._refresh_lock.release()

    def _refresh(self) -> None:
        try:
            stamp = _stamp(self.warehouse_path)
            current = self._current
            if current is not None and current.source_stamp == stamp:
                return
            snapshot = self._copy(stamp)
        except FileNotFoundError:
            return
        except OSError as exc:  # a directory, no permission, ...: like no warehouse, but logged
            problem = f"cannot snapshot the warehouse: {exc}"
            if problem != self._last_problem:
                log.warning("%s; keeping the old snapshot, if any", problem)
                self._last_problem = problem
            return
        if snapshot is None:
            return
        self._last_problem = None
        with self._swap_lock:
            previous, self._current = self._current, snapshot
        if previous is not None:
            previous.retire()
        log.info("serving warehouse snapshot %s", snapshot.path.name)

    def _copy(self, stamp: Stamp) -> Snapshot | None:
        source = self.warehouse_path
        wal = wal_path(source)
        if held_by_another_process(source):
            log.info("warehouse is open in another process (dbt/Dagster?); keeping the old snapshot")
            return None
        self.snapshot_dir.mkdir(parents=True, exist_ok=True)
        # unique per copy: two stamps can share the main file's mtime (a WAL-only change)
        target = self.snapshot_dir / (
            f"{self.catalog}.{time.time_ns()}-{os.getpid()}-{threading.get_ident()}.duckdb"
        )
        target_wal = wal_path(target)
        try:
            shutil.copyfile(source, target)
            shutil.copyfile(wal, target_wal)
        except FileNotFoundError:
            pass  # no WAL (the usual case after a checkpoint); a vanished source fails the stamp
        except OSError:
            self._discard(target, target_wal)
            raise
        try:
            unchanged = _stamp(source) == stamp and not held_by_another_process(source)
        except OSError:  # vanished or replaced while copying
            unchanged = False
        if not unchanged:
            log.info("warehouse changed while copying; keeping the old snapshot")
            self._discard(target, target_wal)
            return None
        try:
            connection = duckdb.connect(str(target), read_only=True)
        except duckdb.Error as exc:
            log.warning("warehouse snapshot is not readable (%s); keeping the old one", exc)
            self._discard(target, target_wal)
            return None
        return Snapshot(path=target, source_stamp=stamp, taken_at=time.time(), connection=connection)

    @staticmethod
    def _discard(*paths: Path) -> None:
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    @contextlib.contextmanager
    def cursor(self) -> Iterator[tuple[Snapshot, duckdb.DuckDBPyConnection]]:
        """A per-request cursor (DuckDB connections are not shared across threads)."""
        self.maybe_refresh()
        with self._swap_lock:
            snapshot = self._current
            if snapshot is None:
                raise WarehouseUnavailable(NOT_READY)
            snapshot.acquire()
        try:
            cur = snapshot.connection.cursor()
            try:
                yield snapshot, cur
            finally:
                cur.close()
        finally:
            snapshot.release()

    def close(self) -> None:
        with self._swap_lock:
            current, self._current = self._current, None
        if current is not None:
            current.retire()
