"""One threshold object per dataset, so every knob of the quality gates lives in one place.

Defaults suit liquid US equities on 1-minute bars. An environment overrides single fields
through ``FINKS_QUALITY__<DATASET>__<FIELD>`` (read by :mod:`finks_assets.lib.settings`, e.g.
``FINKS_QUALITY__BARS_1M__MAX_ABS_RETURN=0.3``); the resource factory applies them.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg
from pydantic import Field


class BarQualityThresholds(dg.Config):
    """Thresholds of the WARN checks on silver 1-minute bars (blocking checks have none)."""

    max_missing_minutes: int = Field(
        0, ge=0, description="Missing minutes per ticker-session tolerated by intraday_gaps."
    )
    max_stale_bars: int = Field(
        15, ge=1, description="Longest run of zero-volume bars with one close before stale_prices fails."
    )
    max_abs_return: float = Field(
        0.5, gt=0, description="Bar-to-bar close move (log-symmetric) above which outlier_jumps fails."
    )
    jump_median_window: int = Field(
        10, ge=1, description="Trailing closes whose median a jump must also leave."
    )
    row_count_trailing_sessions: int = Field(
        20, ge=1, description="Earlier sessions in the row-count trailing median."
    )
    row_count_min_history: int = Field(
        3, ge=1, description="Earlier sessions needed before row_count_anomaly judges a day."
    )
    row_count_min_ratio: float = Field(0.5, gt=0, description="Lower bound vs the trailing median.")
    row_count_max_ratio: float = Field(1.5, gt=0, description="Upper bound vs the trailing median.")


class QualityResource(dg.ConfigurableResource):
    """The thresholds of every dataset, built per environment by the resource factory."""

    bars_1m: BarQualityThresholds = BarQualityThresholds()


def build_quality_resource(overrides: Mapping[str, Mapping[str, str]]) -> QualityResource:
    """A QualityResource with ``{dataset: {field: value}}`` overrides applied and validated.

    Names are checked here, not in settings.py, so that reading settings needs no Dagster.
    """
    datasets = QualityResource.model_fields
    if unknown := sorted(set(overrides) - set(datasets)):
        raise ValueError(f"no quality thresholds for dataset(s) {unknown} (known: {sorted(datasets)})")
    values = {}
    for dataset, fields in overrides.items():
        model = datasets[dataset].annotation
        if extra := sorted(set(fields) - set(model.model_fields)):
            raise ValueError(f"unknown {dataset} threshold(s) {extra} in FINKS_QUALITY__"
                             f"{dataset.upper()}__<FIELD> (known: {sorted(model.model_fields)})")
        values[dataset] = model(**fields)
    return QualityResource(**values)
