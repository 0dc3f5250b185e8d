"""API configuration, derived from :class:`FinksSettings` (the one reader of env vars and .env)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from finks_assets.lib.settings import FinksSettings
from finks_assets.lib.storage_settings import DEFAULT_GOLD_GLUE_DATABASE

MAX_PAGE_SIZE = 5000
DEFAULT_PAGE_SIZE = 1000
MAX_FILTER_VALUES = 100


@dataclass(frozen=True)
class AthenaConfig:
    """Where the ``aws`` backend reads gold: Athena over the Glue database dbt-athena builds."""

    region: str
    workgroup: str
    output_location: str  # ResultConfiguration.OutputLocation (s3://bucket/prefix/)
    endpoint_url: str | None = None  # None: AWS' own endpoints; set in tests (moto)
    # The dbt `athena` target's schema (finks_dbt/profiles.yml): FINKS_GOLD_GLUE_DATABASE.
    database: str = DEFAULT_GOLD_GLUE_DATABASE
    query_timeout: float = 30.0  # seconds a query may run before it is stopped (-> 503)
    first_poll: float = 0.05  # seconds; polls back off x2 up to max_poll
    max_poll: float = 1.0


@dataclass(frozen=True)
class ApiConfig:
    warehouse_path: Path
    key_store_path: Path
    snapshot_dir: Path
    port: int = 8000
    refresh_interval: float = 1.0  # seconds between warehouse mtime checks
    key_recheck_interval: float = 1.0  # seconds between key-store mtime checks (KeyStore)
    query_threads: int = 4  # concurrent DuckDB queries (thread pool size); see app.lifespan
    athena: AthenaConfig | None = None  # set (FINKS_ENV=aws): read gold through Athena instead

    @classmethod
    def from_settings(cls, settings: FinksSettings, **overrides: object) -> ApiConfig:
        values: dict[str, object] = {
            "warehouse_path": settings.warehouse_path,
            "key_store_path": settings.api_key_store_path,
            "snapshot_dir": settings.data_dir / "api" / "snapshots",
            "port": settings.api_port,
        }
        if settings.env == "aws" and settings.object_store is not None:
            store = settings.object_store
            values["athena"] = AthenaConfig(
                region=store.region,
                workgroup=settings.athena_workgroup,
                output_location=settings.athena_results_uri
                or f"s3://{store.gold_bucket}/athena-results/",
                endpoint_url=store.endpoint_url,
                database=store.gold_glue_database,
            )
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
