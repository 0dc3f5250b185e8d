"""Silver: typed, deduplicated, session-aligned 1-minute bars plus their quarantine.

Silver is rebuilt for each day from *all* bronze payloads of that trading day, so a run that
fetched only some tickers (a backfill by ticker) merges into the partition instead of
replacing it, and re-running gives the same rows.

A run covers one day or a range of at most ``FINKS_PARTITIONS_PER_RUN`` days (Dagster cuts a
backfill into such runs). Its bronze is read and cleaned a few days at a time (every rule is
local to a day; ``lib/transforms/bronze_batches.py``), which halves the step's peak memory at
200 tickers x 63 days (4.4 -> 2.2 GB); the quality gate then judges the whole window. Each
day that passes the blocking checks is written and materialized with its own numbers; a day
that fails one is *held*: nothing of it is written, it is not materialized, the step fails,
and Dagster therefore never builds its gold (a backfill does not request the downstream of a
failed partition). Re-running the day after the fix completes it.

With ``only_changed: true`` (the restatement re-check sets it) a day whose bars and quarantine
equal what silver already holds (``ingested_at`` aside) is neither rewritten nor materialized:
its file, its mtime and its gold stay as they are. Each day that did change is materialized
with ``changed_on_recheck`` in its metadata, which the restated-days sensor turns into a gold
run for that day alone (``defs/bars_1m/restatements.py``).
"""


import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.partitions import partition_dates, trading_days
from finks_assets.lib.quality.flags import with_flags
from finks_assets.lib.quality.silver_gate import (
    SILVER_CHECK_SPECS,
    SilverGate,
    run_silver_gate,
    silver_check_results,
)
from finks_assets.lib.quality.thresholds import QualityResource
from finks_assets.lib.resources.lake import LakeResource
from finks_assets.lib.resources.market_data import MarketDataResource
from finks_assets.lib.transforms.bronze_batches import bronze_batches
from finks_assets.lib.transforms.partition_diff import same_as_held
from finks_assets.lib.transforms.silver_bars import SilverResult, clean_bars, clean_read

if TYPE_CHECKING:
    import pandas as pd

BRONZE_BARS = dg.AssetKey(["bronze", "bars_1m"])
SILVER_BARS = dg.AssetKey(["silver", "bars_1m"])
SILVER_QUARANTINE = dg.AssetKey(["silver", "bars_1m_quarantine"])
# Metadata on a silver day that the restatement re-check found changed (and so rewrote).
RECHECK_CHANGED_KEY = "changed_on_recheck"


class SilverConfig(dg.Config):
    only_changed: bool = Field(
        default=False,
        description="Write and materialize only the days whose rows differ from what silver "
                    "holds (the restatement re-check sets it, so gold rebuilds only those days).",
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            SILVER_BARS, deps=[BRONZE_BARS], group_name="silver", kinds={"duckdb", "parquet"},
            skippable=True,
            description="Typed 1-minute bars: UTC bar start, deduplicated on (ticker, ts), in session.",
        ),
        dg.AssetSpec(
            SILVER_QUARANTINE, deps=[BRONZE_BARS], group_name="silver", kinds={"duckdb", "parquet"},
            skippable=True,
            description="Bars rejected from silver, each with the reason it was rejected.",
        ),
    ],
    check_specs=SILVER_CHECK_SPECS,
    partitions_def=trading_days,
    can_subset=False,
)
def silver_bars_1m(
    context: dg.AssetExecutionContext,
    config: SilverConfig,
    market_data: MarketDataResource,
    lake: LakeResource,
    quality: QualityResource,
) -> Iterator[dg.MaterializeResult | dg.AssetMaterialization | dg.AssetCheckResult]:
    days = partition_dates(context)
    store, writer = lake.store(), lake.writer()
    result, bronze_rows, unread = _clean_in_batches(context, store, market_data, days)
    gate = run_silver_gate(result, days, store, writer, quality.bars_1m)
    # WARN-named bars stay in silver, visibly: `flags` from the gate's own outcomes
    result.bars = with_flags(result.bars, gate.outcomes)
    released = [d for d in days if d.isoformat() not in gate.held]
    if config.only_changed:
        unchanged = [d for d in released if _unchanged(store, result, d)]
        released = [d for d in released if d not in unchanged]
        context.log.info(f"only_changed: {len(released)} day(s) changed {released or ''}, "
                         f"{len(unchanged)} unchanged and left as they are")
    keys = [d.isoformat() for d in released]
    bars = writer.write_partitions("silver", "bars_1m", _on(result.bars, released), keys)
    quarantine = writer.write_partitions(
        "silver", "bars_1m_quarantine", _on(result.quarantine, released), keys)
    context.log.info(
        f"silver {days[0]}..{days[-1]}: {bronze_rows} bronze rows ({unread} in fetches"
        f" a newer one replaces, not read) -> {len(result.bars)} bars, {len(result.quarantine)}"
        f" quarantined {result.quarantine_counts()}, {result.superseded} superseded"
        f" ({result.conflicting_duplicates.total} conflicting duplicates),"
        f" {len(result.rejected_files)} landed files rejected;"
        f" held {sorted(gate.held) or 'none'}"
    )
    changed = {RECHECK_CHANGED_KEY: True} if config.only_changed else {}
    metadata = {
        SILVER_BARS: {d: {**_bars_metadata(d, gate, bars.rows[d.isoformat()]), **changed}
                      for d in released},
        SILVER_QUARANTINE: {d: {"dagster/row_count": quarantine.rows[d.isoformat()],
                                "by_reason": dg.MetadataValue.json(gate.reports[d].quarantined)}
                            for d in released},
    }
    yield from _materializations(context, metadata, held=len(released) < len(days))
    yield from silver_check_results(gate)


def _clean_in_batches(
    context: dg.AssetExecutionContext, store: LakeStore, market_data: MarketDataResource,
    days: list[dt.date],
) -> tuple[SilverResult, int, int]:
    """The run's silver result, its bronze rows and how many of them were left unread.

    Cleaned a batch of days at a time (``lib/transforms/bronze_batches.py``: same rows, memory
    bounded by the batch instead of the run's window).
    """
    parts: list[SilverResult] = []
    bronze_rows = unread = 0
    for batch in bronze_batches(store, market_data.bar_source(), days):
        read = batch.read
        for f in read.rejected_files.itertuples():
            context.log.warning(f"rejected landed file {f.path}: {f.reason}: {f.detail}")
        # Looked up at call time, so a test can plant a transform bug (test_quality_gate).
        part = clean_read(read, batch.days, clean=clean_bars)
        parts.append(part)
        bronze_rows += len(read.bars) + read.unread_rows
        unread += read.unread_rows
        if len(batch.days) < len(days):  # progress of a long window, batch by batch
            context.log.info(f"cleaned {batch.days[0]}..{batch.days[-1]}: {len(read.bars)} "
                             f"bronze rows -> {len(part.bars)} bars, {len(part.quarantine)} "
                             f"quarantined ({days.index(batch.days[-1]) + 1}/{len(days)} days)")
        del batch, read  # the batch's bronze is garbage before the next one is read
    return SilverResult.of_batches(parts), bronze_rows, unread


def _unchanged(store: LakeStore, result: SilverResult, day: dt.date) -> bool:
    """Whether the day's bars and quarantine equal the partitions silver holds."""
    return all(
        same_as_held(store, "silver", dataset, day, _on(frame, [day]), ignore=("ingested_at",))
        for dataset, frame in (("bars_1m", result.bars), ("bars_1m_quarantine", result.quarantine))
    )


def _on(frame: "pd.DataFrame", days: list[dt.date]) -> "pd.DataFrame":
    """The frame's rows of ``days`` (the released ones)."""
    import pandas as pd
    if frame.empty:
        return frame
    return frame[pd.to_datetime(frame["trade_date"]).dt.date.isin(set(days))]


def _bars_metadata(day: dt.date, gate: SilverGate, rows: int) -> dict[str, object]:
    report = gate.reports[day]
    return {
        "dagster/row_count": rows,
        "tickers": report.tickers,
        "quarantined_rows": sum(report.quarantined.values()),
        "failed_warn_checks": dg.MetadataValue.json(report.failed_checks),
        "quality_report": dg.MetadataValue.path(gate.report_paths[day]),
        **{name: dg.MetadataValue.json(value) if isinstance(value, list) else value
           for name, value in gate.payload[day].items()},
    }


def _materializations(
    context: dg.AssetExecutionContext, metadata: dict[dg.AssetKey, dict[dt.date, dict]], held: bool
) -> Iterator[dg.MaterializeResult | dg.AssetMaterialization]:
    """Materialize the released days only, each with its own day's numbers.

    With nothing held, one MaterializeResult per asset covers every partition of the run (its
    metadata set per partition) and lets gold in the same run go on. With a held day (or one
    left alone as unchanged), each released day gets its own materialization event and the
    outputs are skipped, so neither Dagster nor gold ever counts that day as materialized.
    """
    for key, by_day in metadata.items():
        if held:
            for day, values in by_day.items():
                yield dg.AssetMaterialization(asset_key=key, partition=day.isoformat(),
                                              metadata=values)
            continue
        for day, values in by_day.items():
            context.add_asset_metadata(values, asset_key=key, partition_key=day.isoformat())
        yield dg.MaterializeResult(asset_key=key)
