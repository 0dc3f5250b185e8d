"""The quality gate of silver 1-minute bars: run every check, write one report per day, and
name the days that fail a blocking check ("held").

Kept out of the asset module so the asset body stays "read bronze, clean, gate, write" and the
gate can be exercised on any frame. A held day is simply not materialized by the silver asset;
Dagster then treats it as failed, and a backfill never requests its downstream gold. That is
the whole release mechanism: no follow-up job.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import dagster as dg

from finks_assets.lib import market_calendar
from finks_assets.lib.lake.layout import dataset_partition_dir
from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.lake.writer import LakeWriter
from finks_assets.lib.logging import get_logger
from finks_assets.lib.quality.check_base import CheckOutcome
from finks_assets.lib.quality.report import PartitionReport, build_partition_reports, render_html
from finks_assets.lib.quality.suite import BAR_CHECKS, BLOCKING_CHECK_NAMES, run_bar_checks
from finks_assets.lib.quality.thresholds import BarQualityThresholds
from finks_assets.lib.transforms.silver_bars import SilverResult

if TYPE_CHECKING:
    import pandas as pd

SILVER_BARS = dg.AssetKey(["silver", "bars_1m"])
HELD_KEY = "held_partitions"
log = get_logger("quality")

# What the transform (not a check over silver) found in the payloads: WARN, never holding a day.
PAYLOAD_CHECKS = {
    "no_conflicting_duplicates": "no payload sends one (ticker, ts) twice with different values"
                                 " (the later row in payload order wins; WARN)",
    "no_rejected_files": "every landed file of the run's days could be read and validated (WARN)",
}
SILVER_CHECK_SPECS = [
    *(dg.AssetCheckSpec(c.name, asset=SILVER_BARS, description=c.description,
                        blocking=c.blocking) for c in BAR_CHECKS),
    *(dg.AssetCheckSpec(name, asset=SILVER_BARS, description=description)
      for name, description in PAYLOAD_CHECKS.items()),
]


@dataclass
class SilverGate:
    """What the silver step learned about the quality of its run's days."""

    outcomes: dict[str, CheckOutcome]
    held: dict[str, list[str]]  # trade date -> the blocking checks it fails
    reports: dict[dt.date, PartitionReport]
    report_paths: dict[dt.date, str]
    payload: dict[dt.date, dict[str, object]]  # conflicting duplicates, rejected files per day


def held_partitions(
    outcomes: Mapping[str, CheckOutcome], blocking: Iterable[str], days: list[dt.date]
) -> dict[str, list[str]]:
    """``{trade_date: [failing blocking checks]}`` for the run's days that fail the gate."""
    held: dict[str, list[str]] = {}
    for name in blocking:
        for day in sorted(outcomes[name].failing_dates):
            held.setdefault(day.isoformat(), []).append(name)
    # A failure whose offending rows carry no trade date (should not happen) holds every day.
    if any(not outcomes[n].passed and not outcomes[n].failing_dates for n in blocking):
        return {d.isoformat(): ["undated_failure"] for d in days}
    return dict(sorted(held.items()))


def read_silver_history(store: LakeStore, before: dt.date, sessions: int) -> pd.DataFrame:
    """(ticker, trade_date, bars) for up to ``sessions`` silver partitions before ``before``."""
    import pandas as pd
    import pyarrow.parquet as pq
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


def run_silver_gate(
    result: SilverResult, days: list[dt.date], store: LakeStore, writer: LakeWriter,
    thresholds: BarQualityThresholds,
) -> SilverGate:
    """Run the checks over the run's days, write one HTML report per day, name held days.

    The row-count history is read from the silver partitions before ``days[0]``.
    """
    history = read_silver_history(store, days[0], thresholds.row_count_trailing_sessions)
    outcomes = run_bar_checks(result.bars, days, history, thresholds)
    held = held_partitions(outcomes, BLOCKING_CHECK_NAMES, days)
    reports = build_partition_reports(
        days, result.bars, result.quarantine, outcomes, BAR_CHECKS,
        conflicts=result.conflicting_duplicates, rejected_files=result.rejected_files)
    paths = {}
    for report in reports:
        relative = report_relative_path("silver", "bars_1m", report.trade_date.isoformat())
        writer.write_text(relative, render_html(report, "silver/bars_1m"))
        paths[report.trade_date] = store.uri(relative)
    failed = sorted(name for name, o in outcomes.items() if not o.passed)
    log.info("silver/bars_1m %s..%s: failed checks %s, held days %s, reports %d",
             days[0], days[-1], failed or "none", sorted(held) or "none", len(paths))
    return SilverGate(outcomes=outcomes, held=held,
                      reports={r.trade_date: r for r in reports}, report_paths=paths,
                      payload={d: result.outcome_metadata(d) for d in days})


def report_relative_path(layer: str, dataset: str, trade_date: str) -> str:
    """``reports/<layer>/<dataset>/trade_date=YYYY-MM-DD/report.html``."""
    return f"reports/{dataset_partition_dir(layer, dataset, trade_date)}/report.html"


def silver_check_results(gate: SilverGate) -> Iterator[dg.AssetCheckResult]:
    """One AssetCheckResult per check; blocking ones name the days they hold."""
    yield from _payload_check_results(gate)
    for check in BAR_CHECKS:
        outcome = gate.outcomes[check.name]
        metadata = {k: _metadata_value(v) for k, v in outcome.metadata.items()}
        if check.blocking:
            metadata[HELD_KEY] = dg.MetadataValue.json(gate.held)
        yield dg.AssetCheckResult(
            asset_key=SILVER_BARS, check_name=check.name, passed=outcome.passed,
            severity=check.severity, metadata=metadata,
        )


def _metadata_value(value: object) -> object:
    if isinstance(value, list | dict):
        return dg.MetadataValue.json(value)
    return value


def _payload_check_results(gate: SilverGate) -> Iterator[dg.AssetCheckResult]:
    conflicts = {d.isoformat(): p["conflicting_duplicates"] for d, p in gate.payload.items()
                 if p["conflicting_duplicates"]}
    samples = [row for p in gate.payload.values() for row in p["conflicting_duplicates_sample"]]
    yield dg.AssetCheckResult(
        asset_key=SILVER_BARS, check_name="no_conflicting_duplicates", passed=not conflicts,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"conflicting_duplicates": sum(conflicts.values()),
                  "by_trade_date": dg.MetadataValue.json(conflicts),
                  "sample": dg.MetadataValue.json(samples[:20])},
    )
    rejected = [{**row, "trade_date": d.isoformat()} for d, p in gate.payload.items()
                for row in p["rejected_files"]]
    yield dg.AssetCheckResult(
        asset_key=SILVER_BARS, check_name="no_rejected_files", passed=not rejected,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"rejected_files": len(rejected), "files": dg.MetadataValue.json(rejected[:50])},
    )
