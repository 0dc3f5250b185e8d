"""Loading the code location pauses the cyclic GC and freezes the import heap, and must leave
the GC running afterwards (a GC left disabled would leak every cycle a run creates)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

from finks_assets.import_heap import loading_heap


def test_definitions_import_leaves_gc_enabled_with_the_import_heap_frozen():
    # A fresh interpreter: this test process has long imported the definitions.
    probe = (
        "import gc, json; import finks_assets.definitions; "
        "print(json.dumps([gc.isenabled(), gc.get_freeze_count()]))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=120)
    enabled, frozen = json.loads(out.stdout.strip().splitlines()[-1])
    assert enabled is True
    assert frozen > 100_000  # dagster + dbt-core: millions of objects, not a handful


def test_loading_heap_pauses_gc_and_restores_the_callers_state():
    before = gc.get_freeze_count()
    try:
        with loading_heap():
            assert not gc.isenabled()
            kept = [[] for _ in range(1000)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= before + len(kept)

        gc.disable()
        with loading_heap():
            pass
        assert not gc.isenabled()  # a caller that disabled the GC keeps it disabled
    finally:
        gc.enable()
        gc.unfreeze()  # give this test process's heap back to the collector
