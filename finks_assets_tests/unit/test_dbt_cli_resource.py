"""The one place Finks overrides private dagster-dbt attributes (``lib/dbt/cli_resource.py``).

dagster-dbt has no public switch for its two per-run probes, so ``FinksDbtCliResource``
overrides ``_cli_version`` and ``_initialize_dbt_core_adapter``. If a dagster-dbt upgrade
renames them, changes their signatures or stops calling them from ``cli()``, the override would
silently stop applying (or break a run): these tests fail first.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
from functools import cached_property
from pathlib import Path

from dagster_dbt import DbtCliResource

from finks_assets.lib.dbt.cli_resource import FinksDbtCliResource
from finks_assets.lib.dbt.project import DBT_PROJECT_DIR

FINKS_ASSETS = Path(__file__).resolve().parents[2] / "finks_assets"


def test_the_overridden_attributes_still_exist_with_the_same_shape() -> None:
    version_probe = DbtCliResource.__dict__["_cli_version"]
    assert isinstance(version_probe, cached_property)
    assert list(inspect.signature(version_probe.func).parameters) == ["self"]

    adapter_probe = DbtCliResource.__dict__["_initialize_dbt_core_adapter"]
    assert list(inspect.signature(adapter_probe).parameters) == ["self", "args"]
    assert list(inspect.signature(FinksDbtCliResource._initialize_dbt_core_adapter).parameters) \
        == ["self", "args"]


def test_cli_still_consults_both_probes() -> None:
    """Otherwise the overrides would be dead code and the probes back under another name."""
    source = inspect.getsource(DbtCliResource.cli)
    assert "self._cli_version" in source
    assert "self._initialize_dbt_core_adapter(" in source
    # The version reaches the invocation: it decides dbt Core vs Fusion event parsing there.
    assert "cli_version=self._cli_version" in source


def test_the_overrides_agree_with_what_the_probes_would_say() -> None:
    executable = Path(sys.executable).parent / "dbt"
    resource = FinksDbtCliResource(project_dir=str(DBT_PROJECT_DIR), dbt_executable=str(executable))
    reported = subprocess.run([str(executable), "--version"], capture_output=True, text=True,
                              check=True, timeout=300).stdout
    assert str(resource._cli_version) in reported  # what `dbt --version` would have said
    assert resource._cli_version.major < 2  # dbt Core: dagster-dbt parses its events as such
    assert resource._initialize_dbt_core_adapter(["build"]) is None


def test_no_finks_module_needs_the_adapter_handle() -> None:
    """The adapter handle only serves these dagster-dbt helpers; Finks must not call them."""
    modules = [m for m in FINKS_ASSETS.rglob("*.py") if m.name != "cli_resource.py"]
    assert modules
    for module in modules:
        text = module.read_text()
        assert "fetch_row_counts" not in text and "fetch_column_metadata" not in text, module
