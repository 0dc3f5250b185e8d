"""Corporate actions (splits, cash dividends): bronze payloads and the silver dataset that the
gold adjustment factors are built from.

Partitioning: none (one materialization per universe refresh), with the files laid out per
ticker (``ticker=<T>/``). Why not by trading day: every vendor answers per symbol with the
ticker's *whole* action history in one call, and gold needs all of a ticker's actions for
every window (a split today re-scales every earlier price), so date partitions would make
each run fetch, and gold read, all of them anyway. Why not Dagster ticker partitions (as the
FMP reference data): the trading-day-partitioned gold asset depends on this one, and an
unpartitioned upstream is what lets the daily job (and ``make demo``) build bronze -> gold in
one run without a partition mapping between tickers and days. A refresh of one ticker is a
run with ``tickers: [X]``; each ticker's silver partition is replaced, the others are kept.

``first_seen_at`` (the earliest fetch that carried an identical event) is what makes
point-in-time adjustment possible: see ``finks_dbt/macros/adjusted_bars_as_of.sql``.
"""


import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import dagster as dg

from finks_assets.defs.fmp.outcomes import FMP_POOL
from finks_assets.lib.lake.corporate_actions_layout import (
    DATASET,
    QUARANTINE,
    SilverState,
    bronze_name,
    latest_payload,
    read_silver,
    silver_state,
)
from finks_assets.lib.resources.fmp import FmpResource
from finks_assets.lib.resources.lake import LakeResource
from finks_assets.lib.resources.market_data import MarketDataResource
from finks_assets.lib.resources.universe import UniverseResource
from finks_assets.lib.run_config import TickerSelection
from finks_assets.lib.sources.corporate_actions.base import ActionPayload, ActionSource
from finks_assets.lib.sources.fmp.errors import FmpAuthError
from finks_assets.lib.transforms.corporate_actions import (
    QUARANTINE_COLUMNS,
    SILVER_COLUMNS,
    clean_actions,
)

if TYPE_CHECKING:
    import pandas as pd

BRONZE_KEY = dg.AssetKey(["bronze", "corporate_actions"])
SILVER_KEY = dg.AssetKey(["silver", DATASET])
QUARANTINE_KEY = dg.AssetKey(["silver", QUARANTINE])


def action_source(market_data: MarketDataResource, fmp: FmpResource | None = None) -> ActionSource:
    """The corporate-actions adapter of ``FINKS_SOURCE`` (adapters stay free of Dagster).

    ``fmp`` is only needed to fetch from FMP; parsing stored payloads (silver) needs no client.
    """
    if market_data.source == "synthetic":
        from finks_assets.lib.sources.corporate_actions.synthetic_adapter import (
            SyntheticActionsSource,
        )

        return SyntheticActionsSource(seed=market_data.synthetic_seed)
    if market_data.source == "yfinance":
        from finks_assets.lib.sources.corporate_actions.yfinance_adapter import (
            YFinanceActionsSource,
        )

        return YFinanceActionsSource()
    if market_data.source == "fmp":
        from finks_assets.lib.sources.corporate_actions.fmp_adapter import FmpActionsSource

        return FmpActionsSource(fmp.client if fmp is not None else _no_client)
    raise ValueError(f"unknown market-data source {market_data.source!r}")


def _no_client():
    raise RuntimeError("no FMP resource given: this step only parses stored payloads")


def _fetch_to_bronze(context: dg.AssetExecutionContext, config: TickerSelection,
                     source: ActionSource, lake: LakeResource, universe: UniverseResource,
                     ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    tickers = config.resolve(universe.tickers)
    try:
        fetch = source.fetch_actions(tickers)
    except FmpAuthError as exc:  # a wrong key: retrying cannot help (the message has no key)
        raise dg.Failure(description=f"FMP rejected the API key ({exc.describe()}) while "
                         "fetching corporate actions. Check FMP_API_KEY.",
                         allow_retries=False) from None
    writer = lake.writer()
    for payload in fetch.payloads.values():
        for part, raw in payload.parts.items():
            writer.write_bytes(bronze_name(source.name, payload, part, context.run_id), raw)
    for ticker, reason in sorted(fetch.failures.items()):
        context.log.warning(f"{source.name} corporate actions {ticker}: {reason}")
    yield dg.MaterializeResult(metadata={
        "source": source.name, "tickers": len(tickers), "delivered": len(fetch.payloads),
        "failed_tickers": dg.MetadataValue.json(sorted(fetch.failures))})
    yield dg.AssetCheckResult(
        check_name="all_tickers_delivered", passed=not fetch.failures,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"failures": dg.MetadataValue.json(fetch.failures)})


_BRONZE = {
    "key": BRONZE_KEY, "group_name": "bronze", "kinds": {"python", "json"},
    "retry_policy": dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL),
    "check_specs": [dg.AssetCheckSpec("all_tickers_delivered", asset=BRONZE_KEY,
                                      description="Every selected ticker's action history arrived.")],
    "description": "Each ticker's split and dividend history from FINKS_SOURCE, as received, "
                   "append-only (one file per vendor answer).",
}


@dg.asset(pool="market_data_api", **_BRONZE)
def bronze_corporate_actions(
    context: dg.AssetExecutionContext, config: TickerSelection, market_data: MarketDataResource,
    lake: LakeResource, universe: UniverseResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """synthetic / yfinance: the market-data vendor's pool."""
    yield from _fetch_to_bronze(context, config, action_source(market_data), lake, universe)


@dg.asset(pool=FMP_POOL, **_BRONZE)
def bronze_corporate_actions_fmp(
    context: dg.AssetExecutionContext, config: TickerSelection, market_data: MarketDataResource,
    fmp: FmpResource, lake: LakeResource, universe: UniverseResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """FINKS_SOURCE=fmp: FMP's pool, shared with every other FMP request."""
    yield from _fetch_to_bronze(context, config, action_source(market_data, fmp), lake, universe)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(SILVER_KEY, group_name="silver", deps=[BRONZE_KEY], kinds={"parquet"},
                     description="Validated splits and cash dividends, one row per (ticker, "
                                 "ex_date, kind); first_seen_at for point-in-time joins."),
        dg.AssetSpec(QUARANTINE_KEY, group_name="silver", deps=[BRONZE_KEY], kinds={"parquet"},
                     description="Corporate-action rows refused by silver, with the reason."),
    ],
    check_specs=[dg.AssetCheckSpec("no_quarantined_actions", asset=QUARANTINE_KEY,
                                   description="No vendor event was refused (WARN).")],
    # Jobs that select gold's upstream pick silver/corporate_actions alone (the dbt source):
    # both files are still written in one pass, only the selected outputs are reported.
    can_subset=True,
)
def silver_corporate_actions(
    context: dg.AssetExecutionContext, config: TickerSelection, market_data: MarketDataResource,
    lake: LakeResource, universe: UniverseResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    tickers = config.resolve(universe.tickers)
    source = action_source(market_data)
    store, writer = lake.store(), lake.writer()
    actions: dict[str, pd.DataFrame] = {}
    quarantined: dict[str, pd.DataFrame] = {}
    unchanged = 0
    held = silver_state(store)
    for ticker in tickers:
        stored = latest_payload(store, source.name, ticker, source.parts)
        if stored is None:
            context.log.info(f"{ticker}: no {source.name} corporate-action payload; left as it was")
            continue
        digest = payload_digest(stored.payload)
        if held.digests.get(ticker) == {digest}:
            # The vendor answered exactly what silver was built from: nothing to redo. Most days
            # for most tickers; re-validating 500 tickers' whole histories took ~1 min a run.
            unchanged += 1
            continue
        parsed = source.parse(stored.payload)
        if _still_without_events(held, ticker, parsed):
            unchanged += 1
            continue
        previous = read_silver(store, DATASET, ticker)
        result = clean_actions(parsed, ticker, source.name, stored.payload.fetched_at, previous)
        actions[ticker] = result.actions.assign(payload_digest=digest)
        quarantined[ticker] = result.quarantine
    if actions:
        writer.write_partitions("silver", DATASET, _typed_silver(actions), actions, by="ticker")
        writer.write_partitions("silver", QUARANTINE, _typed_quarantine(quarantined), quarantined,
                                by="ticker")
    rows = sum(len(f) for f in actions.values())
    refused = {t: f["reason"].value_counts().to_dict() for t, f in quarantined.items() if len(f)}
    selected = context.selected_asset_keys
    if SILVER_KEY in selected:
        yield dg.MaterializeResult(asset_key=SILVER_KEY, metadata={
            "rows_written": rows, "tickers_written": len(actions), "tickers_unchanged": unchanged,
            "splits": sum(int((f["kind"] == "split").sum()) for f in actions.values()),
            "cash_dividends": sum(int((f["kind"] == "cash_dividend").sum())
                                  for f in actions.values())})
    if QUARANTINE_KEY in selected:
        yield dg.MaterializeResult(asset_key=QUARANTINE_KEY, metadata={
            "dagster/row_count": sum(len(f) for f in quarantined.values())})
    if context.selected_asset_check_keys:
        yield dg.AssetCheckResult(check_name="no_quarantined_actions", asset_key=QUARANTINE_KEY,
                                  passed=not refused, severity=dg.AssetCheckSeverity.WARN,
                                  metadata={"refused": dg.MetadataValue.json(refused)})


def _still_without_events(held: SilverState, ticker: str, parsed: "pd.DataFrame") -> bool:
    """A ticker that never split or paid (about half of the synthetic universe, many growth
    stocks) has no silver row to carry the payload digest, so the check above cannot see it is
    unchanged. It is when the vendor still sends no event and silver and quarantine hold none.
    Re-validating and rewriting them took 8 of the 12 s of this step in a 500-ticker daily run."""
    return held.digests.get(ticker) == set() and held.refused.get(ticker) == 0 and not len(parsed)


def payload_digest(payload: ActionPayload) -> str:
    """SHA-256 over the payload's parts, to tell an unchanged vendor answer from a new one."""
    digest = hashlib.sha256()
    for part in sorted(payload.parts):
        digest.update(part.encode() + b"\0" + payload.parts[part] + b"\0")
    return digest.hexdigest()


def _typed_silver(frames: "dict[str, pd.DataFrame]") -> "pd.DataFrame":
    """All tickers' rows with fixed dtypes, so even an all-empty write has typed Parquet columns."""
    import pandas as pd
    frame = pd.concat(frames.values(), ignore_index=True)
    if "payload_digest" not in frame.columns:
        frame["payload_digest"] = None
    frame = frame[[*SILVER_COLUMNS, "payload_digest"]]
    return frame.assign(payload_digest=frame["payload_digest"].astype("string"),
        ticker=frame["ticker"].astype("string"),
        ex_date=pd.to_datetime(frame["ex_date"]).astype("datetime64[ns]"),
        kind=frame["kind"].astype("string"), currency=frame["currency"].astype("string"),
        source=frame["source"].astype("string"),
        split_ratio=frame["split_ratio"].astype("float64"),
        cash_amount=frame["cash_amount"].astype("float64"),
        fetched_at=pd.to_datetime(frame["fetched_at"], utc=True),
        first_seen_at=pd.to_datetime(frame["first_seen_at"], utc=True))


def _typed_quarantine(frames: "dict[str, pd.DataFrame]") -> "pd.DataFrame":
    """Quarantined rows keep the vendor's values as text/float (they may be anything); the
    ``ticker`` partition is the ticker asked for, the vendor's symbol is kept in ``symbol``."""
    import pandas as pd
    parts = [f.assign(symbol=f["ticker"].astype("string"), ticker=t) for t, f in frames.items()]
    frame = pd.concat(parts, ignore_index=True)
    columns = [c for c in QUARANTINE_COLUMNS if c != "ticker"]
    return frame[["ticker", "symbol", *columns]].assign(
        ticker=lambda f: f["ticker"].astype("string"),
        ex_date=lambda f: f["ex_date"].astype("string"),
        kind=lambda f: f["kind"].astype("string"), currency=lambda f: f["currency"].astype("string"),
        source=lambda f: f["source"].astype("string"), reason=lambda f: f["reason"].astype("string"),
        split_ratio=lambda f: pd.to_numeric(f["split_ratio"], errors="coerce").astype("float64"),
        cash_amount=lambda f: pd.to_numeric(f["cash_amount"], errors="coerce").astype("float64"),
        fetched_at=lambda f: pd.to_datetime(f["fetched_at"], utc=True))
