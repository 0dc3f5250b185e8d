"""The DuckDB warehouse that holds gold (``$FINKS_DATA_DIR/warehouse.duckdb``).

dbt never writes that file in place: it builds a private copy that is renamed over it once the
build passed (``lib/warehouse_publish.py``), so readers only ever open a published state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from finks_assets.lib.environ import temporary_environ
from finks_assets.lib.warehouse_publish import GoldBuild, gold_build

if TYPE_CHECKING:
    import duckdb


class WarehouseResource(dg.ConfigurableResource):
    """Where dbt writes gold; readers open it read-only so they never take the write lock."""

    path: str
    publish_lock_timeout: float = 1800.0  # seconds a build waits for another one to publish

    def connect_read_only(self) -> duckdb.DuckDBPyConnection:
        import duckdb
        if not Path(self.path).exists():
            raise FileNotFoundError(f"warehouse not found at {self.path}: run `make demo` first")
        return duckdb.connect(self.path, read_only=True)

    @contextlib.contextmanager
    def dbt_environment(self) -> Iterator[None]:
        """Expose the warehouse path to the dbt subprocess (profiles.yml reads it).

        dagster-dbt passes the current environment to dbt and offers no per-call override, so
        the path is set for the duration of the call and restored afterwards.
        """
        # In s3 mode nothing else writes under FINKS_DATA_DIR, so the directory may not exist yet.
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with temporary_environ({"FINKS_WAREHOUSE_PATH": self.path}):
            yield

    @contextlib.contextmanager
    def gold_build(self) -> Iterator[GoldBuild]:
        """A private copy of the warehouse for one dbt build, exposed to dbt as its path.

        The caller publishes it (``GoldBuild.publish``) only after ``dbt build`` succeeded;
        otherwise it is deleted and the live warehouse stays as the last build published it.
        """
        with gold_build(Path(self.path), self.publish_lock_timeout) as build, \
                temporary_environ({"FINKS_WAREHOUSE_PATH": str(build.path)}):
            yield build
