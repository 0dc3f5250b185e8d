"""The DuckDB warehouse that holds gold (``$FINKS_DATA_DIR/warehouse.duckdb``)."""


import contextlib
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb

from finks_assets.lib.environ import temporary_environ


class WarehouseResource(dg.ConfigurableResource):
    """Where dbt writes gold; readers open it read-only so they never take the write lock."""

    path: str

    def connect_read_only(self) -> duckdb.DuckDBPyConnection:
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
