"""The quality gate of silver 1-minute bars: run every check, write reports, yield results.

Kept out of the asset module so the asset body stays "read bronze, clean, emit" and the
gate can be exercised on any frame. See :mod:`finks_assets.quality.gate` for how a failing
partition is held back while the other partitions of a single-run range are released.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq

from finks_assets import market_calendar
from finks_assets.checks.base import CheckOutcome
from finks_assets.checks.suite import BAR_CHECKS, BLOCKING_CHECK_NAMES, run_bar_checks
from finks_assets.lake.layout import dataset_partition_dir
from finks_assets.lake.store import LakeStore
from finks_assets.logging import get_logger
from finks_assets.quality.gate import gate_metadata, held_partitions
from finks_assets.quality.report import build_partition_reports, markdown_summary, render_html
from finks_assets.quality.report_store import report_relative_path, write_text
from finks_assets.quality.thresholds import BarQualityThresholds
from finks_assets.transforms.silver_bars import SilverResult

SILVER_BARS = dg.AssetKey(["silver", "bars_1m"])
log = get_logger("quality")

SILVER_CHECK_SPECS = [
    dg.AssetCheckSpec(c.name, asset=SILVER_BARS, description=c.description, blocking=c.blocking)
    for c in BAR_CHECKS
]


@dataclass
class SilverGate:
    """Everything the silver step reports about the quality of its run (or of one chunk of it).

    A chunked run merges its chunks' gates (:func:`finks_assets.quality.gate_merge.merge_gates`),
    so the asset's metadata is built from these fields rather than stored ready-made.
    """

    outcomes: dict[str, CheckOutcome]
    held: dict[str, list[str]]
    report_paths: dict[dt.date, str]
    summary_md: str

    @property
    def asset_metadata(self) -> dict[str, object]:
        return {
            "quality_summary": dg.MetadataValue.md(self.summary_md),
            "quality_report": dg.MetadataValue.path(self.report_paths[max(self.report_paths)]),
            "held_partitions": dg.MetadataValue.json(self.held),
        }


def read_silver_history(store: LakeStore, before: dt.date, sessions: int) -> pd.DataFrame:
    """(ticker, trade_date, bars) for up to ``sessions`` silver partitions before ``before``."""
    earlier = market_calendar.sessions_between(
        before - dt.timedelta(days=sessions * 2 + 14), before - dt.timedelta(days=1)
    )[-sessions:]
    frames = []
    for s in earlier:
        for path in store.list_parquet(dataset_partition_dir("silver", "bars_1m", s.date)):
            tickers = pq.read_table(path, columns=["ticker"], filesystem=store.filesystem)
            counts = tickers.to_pandas()["ticker"].value_counts()
            frames.append(pd.DataFrame(
                {"ticker": counts.index.astype(str), "trade_date": s.date,
                 "bars": counts.values.astype("int64")}
            ))
    if not frames:
        return pd.DataFrame(columns=["ticker", "trade_date", "bars"])
    return pd.concat(frames, ignore_index=True)


def silver_quality_metadata(
    result: SilverResult, days: list[dt.date], store: LakeStore, thresholds: BarQualityThresholds
) -> SilverGate:
    """Run the checks, write one HTML report per partition, and summarise both.

    ``result`` and ``days`` are one chunk of a run (or all of it); the row-count history is
    read from silver partitions before ``days[0]``, which for a later chunk includes the
    chunks this run has already written.
    """
    history = read_silver_history(store, days[0], thresholds.row_count_trailing_sessions)
    outcomes = run_bar_checks(result.bars, days, history, thresholds)
    held = held_partitions(outcomes, BLOCKING_CHECK_NAMES, days)
    reports = build_partition_reports(days, result.bars, result.quarantine, outcomes, BAR_CHECKS)
    paths = {}
    for report in reports:
        relative = report_relative_path("silver", "bars_1m", report.trade_date.isoformat())
        write_text(store, relative, render_html(report, "silver/bars_1m"))
        paths[report.trade_date] = store.uri(relative)
    failed = sorted(name for name, o in outcomes.items() if not o.passed)
    log.info("silver/bars_1m %s..%s: failed checks %s, held partitions %s, reports %d",
             days[0], days[-1], failed or "none", sorted(held) or "none", len(paths))
    return SilverGate(outcomes=outcomes, held=held, report_paths=paths,
                      summary_md=markdown_summary(reports, paths))


def silver_check_results(gate: SilverGate, days: list[dt.date]) -> Iterator[dg.AssetCheckResult]:
    """One AssetCheckResult per check; blocking ones carry the gate's release metadata."""
    release = gate_metadata(days, gate.held)
    for check in BAR_CHECKS:
        outcome = gate.outcomes[check.name]
        metadata = {k: _metadata_value(v) for k, v in outcome.metadata.items()}
        if check.blocking:
            metadata.update(release)
        yield dg.AssetCheckResult(
            asset_key=SILVER_BARS, check_name=check.name, passed=outcome.passed,
            severity=check.severity, metadata=metadata,
        )


def _metadata_value(value: object) -> object:
    if isinstance(value, list | dict):
        return dg.MetadataValue.json(value)
    return value
