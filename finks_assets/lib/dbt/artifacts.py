"""Housekeeping for the per-run dbt target folders dagster-dbt leaves behind.

dagster-dbt gives every ``dbt build`` its own folder under ``finks_dbt/target/`` (named
``<op>-<run id>-<random>``, holding a manifest, run results and logs: ~4 MB). On a
long-lived host (``dagster dev``, a VM) one per scheduled run adds up to gigabytes a year, so
the dbt assets keep only the newest ones. On Kubernetes every run is a fresh pod and this
never has anything to do.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

KEEP_INVOCATIONS = 30
_INVOCATION_DIR = re.compile(r"[A-Za-z0-9_]+-[0-9a-f]{7}-[0-9a-f]{7}")


def prune_invocation_dirs(target_dir: Path, keep: int = KEEP_INVOCATIONS) -> int:
    """Delete all but the ``keep`` newest invocation folders; returns how many were deleted.

    Only folders named the way dagster-dbt names them are touched (never ``compiled/``,
    ``run/`` or the project's own ``manifest.json``), and one that vanishes meanwhile (a
    concurrent run pruning too) is not an error.
    """
    if not target_dir.is_dir():
        return 0
    folders = [p for p in target_dir.iterdir() if p.is_dir() and _INVOCATION_DIR.fullmatch(p.name)]
    folders.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in folders[keep:]:
        shutil.rmtree(old, ignore_errors=True)
    return max(len(folders) - keep, 0)


PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def keep_partial_parse(invocation_target: Path, project_target: Path) -> bool:
    """Make a finished build's parse the one the next build starts from.

    dagster-dbt seeds each invocation folder with the project's ``partial_parse.msgpack`` but
    never copies the refreshed one back, so without this every run re-parses whatever changed
    since ``make manifest`` (at least the target, which ``dbt parse`` does not pin) again. dbt
    validates the file against the project, vars, target and profile when it loads it, so a
    stale or foreign copy costs a full parse, never a wrong build. Replaced atomically: a
    concurrent run reads either the old file or the new one.
    """
    fresh = invocation_target / PARTIAL_PARSE_FILE
    if not fresh.is_file():
        return False
    project_target.mkdir(parents=True, exist_ok=True)
    staging = project_target / f".{PARTIAL_PARSE_FILE}.{os.getpid()}.tmp"
    shutil.copyfile(fresh, staging)
    os.replace(staging, project_target / PARTIAL_PARSE_FILE)
    return True
