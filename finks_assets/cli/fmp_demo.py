"""The FMP part of ``finks demo`` (FINKS_SOURCE=fmp): ticker partitions for the universe, then
one run of the reference job (profiles, statements, dim_tickers, fundamentals) over them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from finks_assets.defs.fmp.jobs import FMP_REFERENCE_JOB
from finks_assets.defs.fmp.reference import ensure_ticker_partitions
from finks_assets.lib.settings import FinksSettings

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def run_fmp_reference(
    settings: FinksSettings,
    tickers: Sequence[str],
    instance: dg.DagsterInstance,
    resource_overrides: Mapping[str, Any] | None = None,
) -> dg.ExecuteInProcessResult:
    """Add missing ``tickers`` partitions, then materialize them all in one run."""
    from finks_assets.definitions import build_definitions

    ensure_ticker_partitions(instance, list(tickers))
    defs = build_definitions(settings, resource_overrides)
    job = defs.resolve_job_def(FMP_REFERENCE_JOB)
    keys = [k for k in instance.get_dynamic_partitions("tickers") if k in set(tickers)]
    return job.execute_in_process(
        instance=instance, tags={RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]},
        raise_on_error=False,
    )


def failed_tickers(result: dg.ExecuteInProcessResult) -> dict[str, list[str]]:
    """Per asset, the tickers its ``all_tickers_delivered`` check reported as failed."""
    failed: dict[str, list[str]] = {}
    for event in result.all_events:
        if event.event_type_value != "ASSET_CHECK_EVALUATION":
            continue
        evaluation = event.event_specific_data
        if evaluation.check_name != "all_tickers_delivered" or evaluation.passed:
            continue
        names = evaluation.metadata.get("failed_tickers")
        failed[evaluation.asset_key.to_user_string()] = list(names.value) if names else []
    return failed
