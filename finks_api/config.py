"""API configuration, derived from :class:`FinksSettings` (the one place that reads env vars)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from finks_assets.settings import FinksSettings

MAX_PAGE_SIZE = 5000
DEFAULT_PAGE_SIZE = 1000
MAX_FILTER_VALUES = 100


@dataclass(frozen=True)
class ApiConfig:
    warehouse_path: Path
    key_store_path: Path
    snapshot_dir: Path
    port: int = 8000
    refresh_interval: float = 1.0  # seconds between warehouse mtime checks
    query_threads: int = 4  # concurrent DuckDB queries (thread pool size); see app.lifespan

    @classmethod
    def from_settings(cls, settings: FinksSettings, **overrides: object) -> ApiConfig:
        values: dict[str, object] = {
            "warehouse_path": settings.warehouse_path,
            "key_store_path": settings.api_key_store_path,
            "snapshot_dir": settings.data_dir / "api" / "snapshots",
            "port": settings.api_port,
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
