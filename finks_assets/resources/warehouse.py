"""The DuckDB warehouse that holds gold (``$FINKS_DATA_DIR/warehouse.duckdb``)."""


import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb


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
        previous = os.environ.get("FINKS_WAREHOUSE_PATH")
        os.environ["FINKS_WAREHOUSE_PATH"] = self.path
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("FINKS_WAREHOUSE_PATH", None)
            else:
                os.environ["FINKS_WAREHOUSE_PATH"] = previous
