"""The app as each of uvicorn's worker processes builds it (``finks-api serve --workers N``).

uvicorn starts workers from an import string, not from an app object, so every worker reads
the same settings (environment and ``.env``) and builds its own app: its own key-store cache
and its own warehouse snapshot (snapshot files are named by process, ``snapshot.py``).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os

from fastapi import FastAPI

from finks_api.config import ApiConfig
from finks_assets.lib.settings import FinksSettings

# Set by the parent from `--query-threads`, so every worker runs as many DuckDB queries as asked.
QUERY_THREADS_VAR = "FINKS_API_QUERY_THREADS"


def app_for_worker() -> FastAPI:
    from finks_api.app import create_app
    from finks_api.cli import log_through_a_queue

    config = ApiConfig.from_settings(FinksSettings.from_env())
    if threads := os.environ.get(QUERY_THREADS_VAR):
        config = dataclasses.replace(config, query_threads=int(threads))
    logging_stack = contextlib.ExitStack()
    logging_stack.enter_context(log_through_a_queue())
    atexit.register(logging_stack.close)  # writes what is still queued when the worker exits
    return create_app(config)
