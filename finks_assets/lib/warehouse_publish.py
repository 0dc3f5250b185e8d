"""Publish gold atomically: dbt builds a private copy of the warehouse, one rename publishes it.

Why: dbt commits every model on its own, and dbt-duckdb replaces a table in several statements
(``x__dbt_tmp`` built, ``x`` renamed to ``x__dbt_backup``, the tmp renamed, the backup dropped).
A build that dies half way (``kill -9``, an OOM-killed pod) used to leave ``warehouse.duckdb``
with ``fct_daily_bars`` at the new window, ``daily_portfolio_summary`` at the old one and a
stray ``*__dbt_backup`` table, and every reader served that. Now:

1. Under an exclusive lock (``<warehouse>.publish.lock``: one writer even across Dagster
   instances, beside the ``duckdb_gold`` pool), the live file is copied to
   ``<warehouse>.building`` and dbt builds into the copy; nothing opens the live file for writing.
2. Only when ``dbt build`` succeeded (models and their blocking tests), the copy is cleaned of
   dbt's leftover relations, checkpointed (no ``.wal``), fsynced and renamed over the live file.
   ``rename`` is atomic: a reader opens either the previous published file or the new one.
3. A build that fails or dies publishes nothing; its copy is deleted at the end of the step, or
   by the next build if the process was killed. Readers keep the last published gold.

Cost, measured on the shared 2-core dev machine (``python -m bench.gold_publish``, medians of
5): a warehouse holding 500 tickers x 60 days of the trading-day marts (3.9 MB) takes 0.007 s
to copy before the build and 0.17 s to clean, checkpoint, fsync and rename after it; a year
(500 x 252, 10.5 MB) 0.016 s + 0.17 s. A gold build takes tens of seconds. The copy grows with
the warehouse, not with the run's window; the fsync dominates the publish.

In ``aws`` mode gold is built by Athena (dbt-athena registers each model in Glue as it goes);
there is no warehouse file and nothing to publish (see ``docs/storage.md``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb


BUILD_SUFFIX = ".building"
LOCK_SUFFIX = ".publish.lock"

# Relations dbt adapters create while replacing a model and drop when they finish: dbt-core /
# dbt-duckdb (``__dbt_tmp``, ``__dbt_backup``, batch ids appended to tmp names) and dbt-athena
# (``__ha``, ``__bkp``, ``__tmp_not_partitioned``). Only a dead build leaves them behind.
DBT_LEFTOVER = re.compile(r".+__(dbt_backup|dbt_tmp|bkp|ha|tmp_not_partitioned)(_[0-9A-Za-z]+)?")


class WarehouseBusy(RuntimeError):
    """Another process kept the warehouse's publish lock for longer than the timeout."""


def is_dbt_leftover(name: str) -> bool:
    """Whether a relation name is a dbt work table (tmp/backup) rather than a model."""
    return DBT_LEFTOVER.fullmatch(name) is not None


def wal_of(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def building_path(live: Path) -> Path:
    return live.with_name(live.name + BUILD_SUFFIX)


@dataclass
class PublishStats:
    copy_seconds: float
    publish_seconds: float = 0.0
    bytes: int = 0
    dropped: list[str] = field(default_factory=list)


@dataclass
class GoldBuild:
    """The private copy one dbt build writes; :meth:`publish` makes it the live warehouse."""

    live: Path
    path: Path
    stats: PublishStats
    published: bool = False

    def missing_relations(self, relations: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (schema, name) relations the copy lacks (all of them on a fresh one)."""
        import duckdb
        wanted = set(relations)
        if not self.path.exists():
            return wanted
        with duckdb.connect(str(self.path), read_only=True) as con:
            present = con.execute("select table_schema, table_name from information_schema.tables"
                                  " where table_catalog = current_database()").fetchall()
        return wanted - set(present)

    def publish(self) -> PublishStats:
        import duckdb
        started = time.perf_counter()
        with duckdb.connect(str(self.path)) as con:
            self.stats.dropped = drop_dbt_leftovers(con)
            con.execute("checkpoint")
        if wal_of(self.path).exists():  # a WAL would not follow the rename: refuse, do not lose it
            raise RuntimeError("the gold build copy still has a WAL after a checkpoint; not published")
        _fsync(self.path)
        _swap(self.path, self.live)
        self.published = True
        _fsync_dir(self.live.parent)
        self.stats.publish_seconds = time.perf_counter() - started
        self.stats.bytes = self.live.stat().st_size
        return self.stats


def drop_dbt_leftovers(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Drop every dbt tmp/backup relation (any schema); returns their qualified names."""
    rows = con.execute(
        "select table_schema, table_name, table_type from information_schema.tables"
        " where table_catalog = current_database() order by 1, 2"
    ).fetchall()
    dropped = []
    for schema, name, kind in rows:
        if is_dbt_leftover(name):
            what = "view" if kind == "VIEW" else "table"
            con.execute(f"drop {what} if exists {_quote(schema)}.{_quote(name)}")
            dropped.append(f"{schema}.{name}")
    return dropped


@contextlib.contextmanager
def gold_build(live: Path, lock_timeout: float = 1800.0) -> Iterator[GoldBuild]:
    """Hold the publish lock and a fresh copy of ``live`` for one dbt build.

    The copy is deleted on the way out unless it was published (a failed or interrupted build).
    """
    live = Path(live)
    live.parent.mkdir(parents=True, exist_ok=True)
    work = building_path(live)
    with _publish_lock(live, lock_timeout):
        _remove(work, wal_of(work))  # a build killed earlier left its copy
        started = time.perf_counter()
        if live.exists():
            _fold_wal(live)
            shutil.copyfile(live, work)
        build = GoldBuild(live=live, path=work, stats=PublishStats(time.perf_counter() - started))
        try:
            yield build
        finally:
            if not build.published:
                _remove(work, wal_of(work))


def _fold_wal(live: Path) -> None:
    """Checkpoint a WAL left on the live file by a writer from before publishing existed.

    The copy would not carry it, and after the rename it would belong to another file. Folding it
    in changes no committed state, so readers see the same gold.
    """
    import duckdb
    if wal_of(live).exists():
        with duckdb.connect(str(live)) as con:
            con.execute("checkpoint")


@contextlib.contextmanager
def _publish_lock(live: Path, timeout: float) -> Iterator[None]:
    fd = os.open(live.with_name(live.name + LOCK_SUFFIX), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(
                        f"another gold build held the warehouse for over {timeout:.0f} s"
                    ) from None
                time.sleep(0.5)
        yield
    finally:
        os.close(fd)  # releases the flock


def _swap(work: Path, live: Path) -> None:
    """The publish itself: one atomic rename (a separate function so tests can stop before it)."""
    os.replace(work, live)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    _fsync(directory)


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
