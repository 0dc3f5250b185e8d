"""Bronze: 1-minute vendor payloads exactly as received, append-only, plus an ingestion audit.

Each run writes one file per (source, dataset, trading date, fetch) holding the vendor's
columns untouched and two lineage columns (``_ticker``, ``_fetched_at``). Nothing is ever
overwritten, so any silver bug can be fixed and replayed without calling the vendor again.
The audit (:mod:`finks_assets.lib.transforms.bronze_audit`) records, per ticker and day, what
came back and why something is missing. A run covers at most ``FINKS_PARTITIONS_PER_RUN``
days, so it fetches and holds one such window at a time.

A run fetches only what bronze does not hold yet (:mod:`finks_assets.lib.fetch_planner`), so a
second backfill of a held window calls no vendor, and yfinance's 1-minute history keeps
accumulating past its 30-day window; ``refetch: true`` in the run config (and the restatement
re-check) fetches everything again. Each run reports fetched / skipped / failed sessions per
ticker in its metadata and log.
"""


import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from finks_assets.lib import market_calendar
from finks_assets.lib.fetch_planner import FetchPlan, fetch_report, plan_fetches, report_lines
from finks_assets.lib.lake.layout import fetch_id
from finks_assets.lib.partitions import partition_dates, trading_days
from finks_assets.lib.resources.lake import LakeResource
from finks_assets.lib.resources.market_data import MarketDataResource
from finks_assets.lib.resources.universe import UniverseResource
from finks_assets.lib.run_config import TickerSelection
from finks_assets.lib.sources.base import BarFetch, BarSource, TickerOutcome
from finks_assets.lib.transforms.bronze_audit import (
    AUDIT_COLUMNS,
    audit_rows,
    write_audit,
    write_bronze,
)

if TYPE_CHECKING:
    import pandas as pd

BRONZE_BARS = dg.AssetKey(["bronze", "bars_1m"])
# Transient vendor trouble (timeouts, 5xx) fails the step; Dagster retries it alone.
FETCH_RETRY = dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL)


class BronzeFetchConfig(TickerSelection):
    """Which tickers a run fetches, and whether it fetches sessions bronze already holds."""

    refetch: bool = Field(
        default=False,
        description="Fetch every selected (ticker, session) again, even those bronze holds "
                    "(a refresh; the restatement re-check sets it). Older fetches are kept.",
    )


@dg.asset(
    key=BRONZE_BARS,
    group_name="bronze",
    partitions_def=trading_days,
    kinds={"python", "parquet"},
    pool="market_data_api",  # one fetch at a time against the vendor, whatever the runs
    retry_policy=FETCH_RETRY,
    check_specs=[
        dg.AssetCheckSpec(
            "all_tickers_delivered",
            asset=BRONZE_BARS,
            description="Every selected ticker returned bars for every session in the run.",
        )
    ],
    description="Raw 1-minute bars from FINKS_SOURCE, as received, append-only.",
)
def bronze_bars_1m(
    context: dg.AssetExecutionContext,
    config: BronzeFetchConfig,
    market_data: MarketDataResource,
    lake: LakeResource,
    universe: UniverseResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    import pandas as pd
    tickers = config.resolve(universe.tickers)
    days = partition_dates(context)
    source = market_data.bar_source()
    sessions = [d for d in days if market_calendar.is_session(d)]
    context.log.info(
        f"fetching {len(tickers)} tickers x {len(sessions)} sessions "
        f"({len(days) - len(sessions)} market-closed partitions) from {source.name}"
    )
    plan = plan_fetches(lake.store(), source.name, tickers, sessions, refetch=config.refetch)
    context.log.info(
        f"fetch plan: {plan.pairs_to_fetch} (ticker, session) pairs in {len(plan.groups)} vendor"
        f" call(s), {plan.pairs_skipped} skipped because bronze holds them"
        + (" (refetch: true)" if config.refetch else "")
    )
    closed = [d for d in days if d not in set(sessions)]
    writer = lake.writer()
    records, files = [], 0
    for fetch, fetch_days in _fetches(source, plan, tickers, sessions, closed):
        got, by_day = audit_rows(fetch, source, fetch_days, context.run_id)
        files += write_bronze(writer, fetch, by_day, context.run_id)
        write_audit(writer, source.name, got, fetch_id(fetch.fetched_at, context.run_id))
        records.extend(got)

    audit = pd.DataFrame(records, columns=AUDIT_COLUMNS)
    failed = audit[audit["status"].isin(["error", "empty"])]
    report = fetch_report(plan, audit)
    context.log.info(f"bronze audit: {audit.groupby('status').size().to_dict()}; "
                     f"{files} files written; per ticker (sessions):\n"
                     + "\n".join(report_lines(report)))
    by_day = dict(iter(audit.groupby("trade_date"))) if not audit.empty else {}
    for day in days:
        skipped = sum(day in held for held in plan.held.values())
        metadata: dict[str, object] = {"tickers_skipped": skipped}
        if (part := by_day.get(day)) is not None:
            counts = part.groupby("status").size()
            metadata.update({
                "dagster/row_count": int(part["rows_received"].sum()),
                "tickers_delivered": int(counts.get("ok", 0)),
                "audit_status_counts": dg.MetadataValue.json(
                    {k: int(v) for k, v in counts.items()}),
                "failed_tickers": dg.MetadataValue.json(
                    sorted(part.loc[part["status"].isin(["error", "empty"]), "ticker"].tolist())),
            })
        context.add_asset_metadata(metadata, partition_key=day.isoformat())
    totals = {kind: sum(r[kind] for r in report.values())
              for kind in ("fetched", "skipped", "failed")}
    yield dg.MaterializeResult(metadata={
        "source": source.name, "tickers": len(tickers), "refetch": config.refetch,
        "vendor_calls": len(plan.groups),
        **{f"sessions_{kind}": n for kind, n in totals.items()},
        "fetch_report": dg.MetadataValue.json(report),
    })
    yield dg.AssetCheckResult(
        check_name="all_tickers_delivered",
        passed=failed.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "failed_ticker_days": len(failed),
            "failed_tickers": sorted(failed["ticker"].unique().tolist()),
            "failures": dg.MetadataValue.md(_failures_markdown(failed)),
        },
    )


def _fetches(
    source: BarSource, plan: FetchPlan, tickers: list[str], sessions: list[dt.date],
    closed: list[dt.date],
) -> Iterator[tuple[BarFetch, list[dt.date]]]:
    """One vendor call per plan group, each with the days its audit covers (its sessions and
    the run's market-closed days, so every fetched ticker's holidays are audited once).

    A run without sessions calls no vendor and audits the closed days for every ticker. Two
    groups never share a fetch time: the fetch time names the bronze file and orders fetches
    ("latest wins"), so a clock that did not move between calls is nudged by a microsecond.
    """
    import pandas as pd
    if not sessions:
        yield BarFetch(
            source=source.name, fetched_at=pd.Timestamp.now(tz="UTC"),
            outcomes={t: TickerOutcome(ticker=t, status="empty") for t in tickers},
        ), closed
        return
    previous: pd.Timestamp | None = None
    for group in plan.groups:
        fetch = source.fetch_bars_1m(list(group.tickers), list(group.sessions))
        if previous is not None and fetch.fetched_at <= previous:
            fetch.fetched_at = previous + pd.Timedelta(microseconds=1)
        previous = fetch.fetched_at
        yield fetch, sorted([*group.sessions, *closed])


def _failures_markdown(failed: "pd.DataFrame") -> str:
    if failed.empty:
        return "All tickers delivered bars for every session."
    lines = ["| ticker | trade_date | status | error |", "|---|---|---|---|"]
    for row in failed.head(50).itertuples():
        lines.append(f"| {row.ticker} | {row.trade_date} | {row.status} | {row.error or ''} |")
    if len(failed) > 50:
        lines.append(f"| … | | | {len(failed) - 50} more |")
    return "\n".join(lines)
