"""Bronze: 1-minute vendor payloads exactly as received, append-only, plus an ingestion audit.

Each run writes one file per (source, dataset, trading date, fetch) holding the vendor's
columns untouched and two lineage columns (``_ticker``, ``_fetched_at``). Nothing is ever
overwritten, so any silver bug can be fixed and replayed without calling the vendor again.
The audit (:mod:`finks_assets.lib.transforms.bronze_audit`) records, per ticker and day, what
came back and why something is missing. A run covers at most ``FINKS_PARTITIONS_PER_RUN``
days, so it fetches and holds one such window at a time.
"""


from collections.abc import Iterator

import dagster as dg
import pandas as pd

from finks_assets.lib import market_calendar
from finks_assets.lib.lake.layout import fetch_id
from finks_assets.lib.partitions import partition_dates, trading_days
from finks_assets.lib.resources.lake import LakeResource
from finks_assets.lib.resources.market_data import MarketDataResource
from finks_assets.lib.resources.universe import UniverseResource
from finks_assets.lib.run_config import TickerSelection
from finks_assets.lib.sources.base import BarFetch, TickerOutcome
from finks_assets.lib.transforms.bronze_audit import (
    AUDIT_COLUMNS,
    audit_rows,
    write_audit,
    write_bronze,
)

BRONZE_BARS = dg.AssetKey(["bronze", "bars_1m"])
# Transient vendor trouble (timeouts, 5xx) fails the step; Dagster retries it alone.
FETCH_RETRY = dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL)


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
    config: TickerSelection,
    market_data: MarketDataResource,
    lake: LakeResource,
    universe: UniverseResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    tickers = config.resolve(universe.tickers)
    days = partition_dates(context)
    source = market_data.bar_source()
    sessions = [d for d in days if market_calendar.is_session(d)]
    context.log.info(
        f"fetching {len(tickers)} tickers x {len(sessions)} sessions "
        f"({len(days) - len(sessions)} market-closed partitions) from {source.name}"
    )
    fetch = source.fetch_bars_1m(tickers, sessions) if sessions else BarFetch(
        source=source.name, fetched_at=pd.Timestamp.now(tz="UTC"),
        outcomes={t: TickerOutcome(ticker=t, status="empty") for t in tickers},
    )
    records, by_day = audit_rows(fetch, source, days, context.run_id)
    writer = lake.writer()
    files = write_bronze(writer, fetch, by_day, context.run_id)
    write_audit(writer, source.name, records, fetch_id(fetch.fetched_at, context.run_id))

    audit = pd.DataFrame(records, columns=AUDIT_COLUMNS)
    failed = audit[audit["status"].isin(["error", "empty"])]
    context.log.info(f"bronze audit: {audit.groupby('status').size().to_dict()}; "
                     f"{files} files written")
    for day, part in audit.groupby("trade_date"):
        counts = part.groupby("status").size()
        context.add_asset_metadata({
            "dagster/row_count": int(part["rows_received"].sum()),
            "tickers_delivered": int(counts.get("ok", 0)),
            "audit_status_counts": dg.MetadataValue.json({k: int(v) for k, v in counts.items()}),
            "failed_tickers": dg.MetadataValue.json(
                sorted(part.loc[part["status"].isin(["error", "empty"]), "ticker"].tolist())),
        }, partition_key=day.isoformat())
    yield dg.MaterializeResult(metadata={"source": source.name, "tickers": len(tickers)})
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


def _failures_markdown(failed: pd.DataFrame) -> str:
    if failed.empty:
        return "All tickers delivered bars for every session."
    lines = ["| ticker | trade_date | status | error |", "|---|---|---|---|"]
    for row in failed.head(50).itertuples():
        lines.append(f"| {row.ticker} | {row.trade_date} | {row.status} | {row.error or ''} |")
    if len(failed) > 50:
        lines.append(f"| … | | | {len(failed) - 50} more |")
    return "\n".join(lines)
