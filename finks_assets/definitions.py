"""The Finks code location: one ``build_defs`` per domain folder under ``defs/``, merged, plus
the resources the one factory builds for ``FINKS_ENV``.

``@dg.definitions`` defers all work (reading the environment, loading the dbt manifest) until
Dagster asks for the definitions, so importing this module is cheap and side-effect free.
Domains are listed here rather than discovered, because their definitions depend on settings
(the backfill policy's run size, the daily job's price path).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from finks_assets.defs.bars_1m import definitions as bars_1m
from finks_assets.defs.corporate_actions import definitions as corporate_actions
from finks_assets.defs.fmp import definitions as fmp
from finks_assets.defs.gold import definitions as gold
from finks_assets.defs.ops import definitions as ops
from finks_assets.defs.stream import definitions as stream
from finks_assets.lib.logging import configure_logging
from finks_assets.lib.resources.factory import build_resources
from finks_assets.lib.settings import FinksSettings

DOMAINS = (bars_1m, corporate_actions, fmp, gold, ops, stream)
# Why in_process by default: a run's steps are a chain (fetch -> silver -> gold) that the
# multiprocess executor ran one subprocess at a time anyway, each re-importing Dagster, dbt and
# the definitions first (~5 s of CPU per step here). Parallelism comes from runs instead:
# multi-run backfills, and on EKS one pod per run. FINKS_RUN_EXECUTOR=multiprocess restores it.
EXECUTORS = {"in_process": dg.in_process_executor, "multiprocess": dg.multiprocess_executor}


def build_definitions(
    settings: FinksSettings, resource_overrides: Mapping[str, Any] | None = None
) -> dg.Definitions:
    """All Finks definitions for ``settings``; tests swap single resources via overrides."""
    configure_logging(settings.ops.log_format)
    return dg.Definitions.merge(
        *(domain.build_defs(settings) for domain in DOMAINS),
        dg.Definitions(resources={**build_resources(settings), **(resource_overrides or {})},
                       executor=EXECUTORS[settings.run_executor]),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(FinksSettings.from_env())
