"""One quality gate for a run whose silver step was checked chunk by chunk.

A long single-run backfill checks its trading days in chunks, so memory is bounded by a chunk
rather than the window (:mod:`finks_assets.assets.silver_chunks`). Dagster still wants one
result per check for the run, so the chunks' outcomes are merged here: a check passes when it
passed in every chunk, failing rows add up, held partitions are the union of each chunk's.
What is kept of a chunk between chunks is small (:func:`compact_gate`): its offenders are cut
to a sample that still names every failing day and ticker, never the full offending rows.

A run that fits in one chunk is not merged at all, so its results are exactly those of
:func:`finks_assets.quality.silver_gate.silver_quality_metadata`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from finks_assets.checks.base import MAX_LISTED_TICKERS, SAMPLE_ROWS, CheckOutcome
from finks_assets.quality.silver_gate import SilverGate

# Metadata keys that count offenders (they add up over chunks). Every other scalar key is a
# setting of the check (a threshold, the history it saw): the first chunk's value is kept.
SUMMED_METADATA = frozenset({"failing_rows", "stale_runs", "incomplete_ticker_sessions"})


def compact_outcome(outcome: CheckOutcome) -> CheckOutcome:
    """The outcome with its offenders cut to the first rows plus one row per day and ticker.

    That keeps ``failing_dates`` and ``offending_tickers()`` exact while the frame stays
    bounded by the window's days and the universe, not by how many rows failed.
    """
    offenders = outcome.offenders
    if len(offenders) <= SAMPLE_ROWS:
        return outcome
    keep = np.zeros(len(offenders), dtype=bool)
    keep[:SAMPLE_ROWS] = True
    for column in ("trade_date", "ticker"):
        if column in offenders:
            keep |= ~offenders[column].duplicated().to_numpy()
    return CheckOutcome(passed=outcome.passed, failing_rows=outcome.failing_rows,
                        metadata=outcome.metadata, offenders=offenders[keep].copy())


def compact_gate(gate: SilverGate) -> SilverGate:
    """What a chunk's gate keeps once its reports are written (see :func:`compact_outcome`)."""
    return SilverGate(
        outcomes={name: compact_outcome(o) for name, o in gate.outcomes.items()},
        held=gate.held, report_paths=gate.report_paths, summary_md=gate.summary_md,
    )


def merge_outcomes(parts: Sequence[CheckOutcome]) -> CheckOutcome:
    """One check's outcome over consecutive chunks (in calendar order)."""
    if len(parts) == 1:
        return parts[0]
    frames = [p.offenders for p in parts if len(p.offenders)]
    offenders = pd.concat(frames, ignore_index=True) if frames else parts[0].offenders
    merged = CheckOutcome(
        passed=all(p.passed for p in parts),
        failing_rows=sum(p.failing_rows for p in parts),
        metadata=_merge_metadata([p.metadata for p in parts]),
        offenders=offenders,
    )
    return compact_outcome(merged)


def _merge_metadata(parts: Sequence[Mapping[str, object]]) -> dict[str, object]:
    merged = dict(parts[0])
    for metadata in parts[1:]:
        for key, value in metadata.items():
            if key not in merged:
                merged[key] = value
            elif key in SUMMED_METADATA:
                merged[key] = merged[key] + value
            elif key == "failing_tickers":
                # Each chunk lists its first tickers in sorted order, so the sorted union of
                # those lists starts with the run's first tickers.
                merged[key] = sorted({*merged[key], *value})[:MAX_LISTED_TICKERS]
            elif key == "failing_trade_dates":
                merged[key] = sorted({*merged[key], *value})
            elif key == "sample":
                merged[key] = [*merged[key], *value][:SAMPLE_ROWS]
    return merged


def merge_gates(gates: Sequence[SilverGate]) -> SilverGate:
    """The run's gate from its chunks' gates (chunks in calendar order, days disjoint)."""
    if len(gates) == 1:
        return gates[0]
    held: dict[str, list[str]] = {}
    paths = {}
    for gate in gates:
        held.update(gate.held)
        paths.update(gate.report_paths)
    return SilverGate(
        outcomes={name: merge_outcomes([g.outcomes[name] for g in gates])
                  for name in gates[0].outcomes},
        held=dict(sorted(held.items())),
        report_paths=paths,
        summary_md=merge_markdown_tables([g.summary_md for g in gates]),
    )


def merge_markdown_tables(tables: Sequence[str]) -> str:
    """Markdown tables with one header: later tables' rows appended below the first's."""
    merged = tables[0].splitlines()
    for table in tables[1:]:
        lines = table.splitlines()
        separator = next((i for i, line in enumerate(lines) if line.startswith("|-")), None)
        merged.extend(lines[separator + 1:] if separator is not None else ["", *lines])
    return "\n".join(merged)
