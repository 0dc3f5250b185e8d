"""Finks' Python logs: every line carries the Dagster run id; JSON when FINKS_LOG_FORMAT=json.

Code under ``finks_assets`` logs through ``logging.getLogger("finks.<module>")``. A filter on
the "finks" handler asks Dagster for the op/asset context of the current thread
(``OpExecutionContext.get()``), so no function has to pass a run id around; outside a run
(sensors, the CLI before a run starts) the field reads "-". :func:`configure_logging` is
called when the definitions are built, with the format from the settings. The handler also
masks secrets (API keys, webhook URLs; see ``lib/sources/fmp/redact.py``) in every message, so a
URL quoted in some error cannot reach the log through a Finks logger either.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import TextIO

import dagster as dg

from finks_assets.lib.sources.fmp.redact import RedactingFilter

FINKS_LOGGER = "finks"
NO_RUN = "-"
_HANDLER_NAME = "finks-run-id"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s run_id=%(run_id)s %(message)s"


def current_run_id() -> str:
    """The run id of the op or asset executing in this thread, or "-" outside a run."""
    try:
        return dg.OpExecutionContext.get().run_id
    except Exception:  # no active context: not inside an op
        return NO_RUN


class RunIdFilter(logging.Filter):
    """Stamp ``record.run_id`` (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "run_id", None):
            record.run_id = current_run_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, run_id, message (+ exception)."""

    def format(self, record: logging.LogRecord) -> str:
        body = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "run_id": getattr(record, "run_id", NO_RUN),
            "message": record.getMessage(),
        }
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


def configure_logging(log_format: str = "text", stream: TextIO | None = None) -> logging.Handler:
    """Install (or replace) the one Finks handler on the "finks" logger; idempotent."""
    logger = logging.getLogger(FINKS_LOGGER)
    for handler in list(logger.handlers):
        if handler.get_name() == _HANDLER_NAME:
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RunIdFilter())
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    return handler


def get_logger(name: str) -> logging.Logger:
    """``finks.<name>``: a child of the configured Finks logger."""
    return logging.getLogger(f"{FINKS_LOGGER}.{name}")
