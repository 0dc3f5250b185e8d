"""Loading the definitions imports no data library.

Every code-server start and every launched run loads the definitions, and none of that runs
data code: pandas, NumPy, PyArrow and DuckDB were about 0.5 s of each load (issue 13's
definitions-load target). So ``lib/`` and ``defs/`` import them inside the functions that use
them; a module-level ``import pandas`` on the load path fails this test and names the module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

DATA_LIBRARIES = ("pandas", "numpy", "pyarrow", "duckdb")
# Runs in a fresh interpreter: this test process has long imported all of them. Records the
# Finks module whose import first pulled each library in.
PROBE = """
import builtins, json, sys
LIBS = set(sys.argv[1].split(","))
first = {}
real_import = builtins.__import__
def recording_import(name, globals=None, locals=None, fromlist=(), level=0):
    top = name.partition(".")[0]
    importer = (globals or {}).get("__name__", "?")
    if level == 0 and top in LIBS and top not in first and importer.startswith("finks"):
        first[top] = importer
    return real_import(name, globals, locals, fromlist, level)
builtins.__import__ = recording_import
from finks_assets.definitions import build_definitions
from finks_assets.lib.settings import FinksSettings
repo = build_definitions(FinksSettings.from_env()).get_repository_def()
assert repo.asset_graph.get_all_asset_keys()
print(json.dumps({lib: first.get(lib, "(not by Finks)") for lib in LIBS if lib in sys.modules}))
"""


def test_loading_the_definitions_imports_no_data_library(tmp_path: Path) -> None:
    env = {**os.environ, "FINKS_DATA_DIR": str(tmp_path / "finks"),
           "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    done = subprocess.run([sys.executable, "-c", PROBE, ",".join(DATA_LIBRARIES)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    imported = json.loads(done.stdout.strip().splitlines()[-1])
    assert imported == {}, f"the definitions load imported {imported} (library: first importer)"
