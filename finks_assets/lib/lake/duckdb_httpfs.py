"""DuckDB over the lake in ``s3`` mode: httpfs installed offline and one S3 secret.

DuckDB normally downloads httpfs at run time; here it comes from the
``duckdb-extension-httpfs`` wheel (pinned to the same version as duckdb), installed from the
file that wheel ships. The same facts feed dbt-duckdb's ``duckdb_s3`` target through
environment variables (``LakeResource.dbt_environment`` and ``finks_dbt/profiles.yml``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from finks_assets.lib.storage_settings import ObjectStoreSettings

if TYPE_CHECKING:
    import duckdb


def httpfs_extension_path() -> Path:
    """The ``httpfs.duckdb_extension`` file shipped for the installed duckdb version."""
    import duckdb
    import duckdb_extension_httpfs

    package = Path(duckdb_extension_httpfs.__file__).parent
    path = package / "extensions" / f"v{duckdb.__version__}" / "httpfs.duckdb_extension"
    if not path.exists():
        raise FileNotFoundError(
            f"no httpfs extension for duckdb {duckdb.__version__} at {path}: pin "
            "duckdb-extension-httpfs to the same version as duckdb"
        )
    return path


def load_httpfs(con: duckdb.DuckDBPyConnection) -> None:
    path = str(httpfs_extension_path())
    con.install_extension(path)
    con.load_extension(path)


def configure_s3(con: duckdb.DuckDBPyConnection, store: ObjectStoreSettings) -> None:
    """Load httpfs and register the store's endpoint and keys as this connection's S3 secret.

    CREATE SECRET takes no bound parameters, so values are quoted as SQL string literals.
    The secret is temporary (connection-scoped) and never written to the database file.
    """
    load_httpfs(con)
    options = {
        "region": store.region,
        "url_style": "path" if store.endpoint_url else "vhost",
        "use_ssl": "true" if store.scheme == "https" else "false",
    }
    if store.endpoint_host:
        options["endpoint"] = store.endpoint_host
    if store.access_key_id and store.secret_access_key:
        options["key_id"] = store.access_key_id.get_secret_value()
        options["secret"] = store.secret_access_key.get_secret_value()
    body = ", ".join(f"{key} {_literal(value)}" for key, value in options.items())
    con.execute(f"create or replace temporary secret finks_lake (type s3, {body})")


def connect_lake(store: ObjectStoreSettings | None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that can read the lake: local files, or S3 through httpfs."""
    import duckdb
    con = duckdb.connect()
    if store is not None:
        configure_s3(con, store)
    return con


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
