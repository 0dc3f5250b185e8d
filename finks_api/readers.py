"""Where the API reads gold: a DuckDB snapshot (``local``/``s3``) or Athena (``aws``).

The routes only see :class:`GoldReader`, so every endpoint, validation rule, cursor and format
is the same on either backend; only how a page, the freshness table and readiness are obtained
differs. The backend follows ``FINKS_ENV`` through :class:`~finks_api.config.ApiConfig`.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Protocol

import duckdb

from finks_api import datasets
from finks_api.config import ApiConfig
from finks_api.datasets import Dataset, Page, PageRequest
from finks_api.snapshot import NOT_READY, WarehouseSnapshots, WarehouseUnavailable, modified_ns
from finks_assets.lib.warehouse_publish import is_dbt_leftover

log = logging.getLogger(__name__)


class GoldQueryFailed(RuntimeError):
    """The backend rejected or failed a query (Athena FAILED/CANCELLED, an AWS error): a 502.

    The message is safe to show a client; details (query id, the engine's reason) are logged.
    """


class GoldReader(Protocol):
    def open(self) -> None:
        """Called once at startup (the lifespan), before the first request."""

    def close(self) -> None: ...

    def page(self, dataset: Dataset, request: PageRequest, *, as_arrow: bool) -> Page:
        """One page in key order; raises DatasetMissing, WarehouseUnavailable, GoldQueryFailed."""

    def freshness(self) -> dict[str, object]:
        """The body of ``/v1/freshness`` (see ``models.Freshness``)."""

    def check_ready(self) -> None:
        """Returns when the backend answers; raises WarehouseUnavailable otherwise."""


class DuckDBReader:
    """Gold from a private read-only snapshot of ``warehouse.duckdb`` (see ``snapshot.py``)."""

    def __init__(self, config: ApiConfig) -> None:
        self.snapshots = WarehouseSnapshots(
            config.warehouse_path, config.snapshot_dir, refresh_interval=config.refresh_interval
        )

    def open(self) -> None:
        self.snapshots.snapshot_dir.mkdir(parents=True, exist_ok=True)
        self.snapshots.remove_orphans()
        self.snapshots.maybe_refresh()  # take the first snapshot before the first request

    def close(self) -> None:
        self.snapshots.close()

    def page(self, dataset: Dataset, request: PageRequest, *, as_arrow: bool) -> Page:
        with self.snapshots.cursor() as (snapshot, cur):
            schema = snapshot.schema(dataset.table, cur)
            return datasets.fetch_page(cur, dataset, schema, request, as_arrow=as_arrow)

    def freshness(self) -> dict[str, object]:
        with self.snapshots.cursor() as (snapshot, cur):
            tables = snapshot.freshness(cur)
        return {
            "snapshot_taken_at": dt.datetime.fromtimestamp(snapshot.taken_at, dt.UTC),
            "warehouse_modified_at": dt.datetime.fromtimestamp(
                modified_ns(snapshot.source_stamp) / 1e9, dt.UTC
            ),
            "tables": tables,
        }

    def check_ready(self) -> None:
        try:
            with self.snapshots.cursor() as (_, cur):
                cur.execute("select 1").fetchone()
        except duckdb.Error as exc:  # its text names server paths: log it, answer generically
            log.warning("readiness query failed: %s", exc)
            raise WarehouseUnavailable(NOT_READY) from exc


class WithoutDbtLeftovers:
    """A reader whose ``/v1/freshness`` never lists dbt's tmp/backup relations.

    A published DuckDB warehouse has none (``lib/warehouse_publish.py`` drops them), but one
    from before publishing existed may, and in Athena a dead dbt-athena build leaves ``__ha`` /
    ``__bkp`` / ``__dbt_tmp`` tables in the gold Glue database. They are not gold: hidden on
    both backends. Everything else is the wrapped reader's (attributes included).
    """

    def __init__(self, reader: GoldReader) -> None:
        self.reader = reader

    def __getattr__(self, name: str) -> object:
        return getattr(self.reader, name)

    def open(self) -> None:
        self.reader.open()

    def close(self) -> None:
        self.reader.close()

    def page(self, dataset: Dataset, request: PageRequest, *, as_arrow: bool) -> Page:
        return self.reader.page(dataset, request, as_arrow=as_arrow)

    def freshness(self) -> dict[str, object]:
        body = self.reader.freshness()
        tables = body.get("tables")
        if isinstance(tables, list):
            body["tables"] = [t for t in tables if not is_dbt_leftover(str(t["table"]))]
        return body

    def check_ready(self) -> None:
        self.reader.check_ready()


def build_reader(config: ApiConfig) -> GoldReader:
    if config.athena is not None:
        from finks_api.athena import AthenaReader  # boto3 only where it is used

        return WithoutDbtLeftovers(AthenaReader(config.athena))
    return WithoutDbtLeftovers(DuckDBReader(config))
