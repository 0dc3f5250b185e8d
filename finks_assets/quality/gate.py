"""The per-partition quality gate, and how single-run ranges keep partitions independent.

Dagster's blocking checks act on a *step*: when one fails, every downstream step of that run
is skipped. A one-day run therefore gives exactly "this partition's gold is not built". A
single-run backfill (design decision 2) covers many partitions in one step, so one bad day
would hold back gold for all of them. Finks keeps Dagster's semantics (the check fails, gold is
skipped in that run, nothing bad is read by dbt) and then *releases* the passing days: the
silver step records which partitions failed a blocking check (``held_partitions`` in the check
metadata), and :func:`releasable_ranges` turns the rest into contiguous ranges that a
follow-up gold-only run builds (the ``gate_release_sensor`` in Dagster, ``run_range`` in the
CLI). The held partition stays unbuilt until its silver passes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import dagster as dg

from finks_assets.checks.base import CheckOutcome

HELD_KEY = "held_partitions"
RELEASABLE_KEY = "releasable_ranges"


def held_partitions(
    outcomes: Mapping[str, CheckOutcome], blocking: Iterable[str], days: list[dt.date]
) -> dict[str, list[str]]:
    """``{trade_date: [failing blocking checks]}`` for the run's partitions that fail the gate."""
    held: dict[str, list[str]] = {}
    for name in blocking:
        for day in sorted(outcomes[name].failing_dates):
            held.setdefault(day.isoformat(), []).append(name)
    # A failure whose row has no trade date (should not happen) holds the whole run.
    if any(not outcomes[n].passed and not outcomes[n].failing_dates for n in blocking):
        return {d.isoformat(): ["undated_failure"] for d in days}
    return dict(sorted(held.items()))


def releasable_ranges(days: list[dt.date], held: Iterable[str]) -> list[tuple[str, str]]:
    """Maximal runs of consecutive partitions (in partition order) that passed the gate."""
    held_set = set(held)
    ranges: list[tuple[str, str]] = []
    current: list[str] = []
    for key in (d.isoformat() for d in sorted(days)):
        if key in held_set:
            if current:
                ranges.append((current[0], current[-1]))
            current = []
        else:
            current.append(key)
    if current:
        ranges.append((current[0], current[-1]))
    return ranges


def gate_metadata(days: list[dt.date], held: Mapping[str, list[str]]) -> dict[str, object]:
    """Metadata every blocking check result carries, so a sensor can release passing days."""
    return {
        HELD_KEY: dg.MetadataValue.json(dict(held)),
        RELEASABLE_KEY: dg.MetadataValue.json(
            [list(r) for r in releasable_ranges(days, held)] if held else []
        ),
    }


def ranges_to_release(evaluations: Iterable[dg.AssetCheckEvaluation]) -> list[tuple[str, str]]:
    """The passing ranges of a run whose blocking gate failed (empty when nothing is held)."""
    for evaluation in evaluations:
        if evaluation.passed or RELEASABLE_KEY not in evaluation.metadata:
            continue
        if evaluation.severity != dg.AssetCheckSeverity.ERROR:
            continue
        value = evaluation.metadata[RELEASABLE_KEY]
        data = getattr(value, "data", value) or []
        return [(str(a), str(b)) for a, b in data]
    return []
