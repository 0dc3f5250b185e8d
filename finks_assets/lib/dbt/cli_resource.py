"""dagster-dbt's CLI resource without the two probes it runs before every ``dbt build``.

Before each invocation ``DbtCliResource.cli`` (dagster-dbt 0.29) runs ``dbt --version`` in a
subprocess to learn the executable's version (a full dbt start-up, plus a PyPI lookup for the
latest version), and loads dbt's macros in-process to build an adapter handle. Measured on this
2-core machine: ~4.5 s idle, 7-13 s when shared; the gold step of a 20 tickers x 2 days run took
21-25 s with the probes and 12-14 s without. Finks needs neither:

* the dbt executable is the one installed next to dbt-core in the same environment
  (``lib/resources/factory.py::_dbt_executable``), so the imported ``dbt.version`` *is* its
  version;
* the adapter handle only serves ``fetch_row_counts`` / ``fetch_column_metadata`` (and makes
  the event stream wait for dbt to exit on DuckDB), which the Finks dbt assets do not use.

dagster-dbt offers no public switch for either (checked in 0.29.27: ``cli()`` takes none, and
the version probe ignores ``DbtProject``), so this module is the one place that overrides its
private attributes. ``finks_assets_tests/unit/test_dbt_cli_resource.py`` fails as soon as
dagster-dbt renames them, changes their signatures or stops calling them from ``cli()``, and
checks that no Finks module uses the adapter-backed helpers. Everything else (the subprocess,
the event stream, selection, artifacts) is dagster-dbt's.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from dagster_dbt import DbtCliResource
from packaging import version


class FinksDbtCliResource(DbtCliResource):
    @cached_property
    def _cli_version(self) -> version.Version:
        from dbt.version import __version__ as dbt_core_version

        return version.parse(dbt_core_version)

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> Any:
        return None
