"""FMP per-ticker datasets (company profile, income / balance-sheet / cash-flow statements),
partitioned by ticker through the dynamic partitions ``tickers``.

Profiles and statements have no trading-date axis, so ticker is the natural partition here (the
brief's decision 1 allows it), and one ticker can be (re)fetched from the UI. Partitions come
from the universe: :func:`universe_partitions_sensor` adds every universe ticker that has no
partition yet, re-reading ``FINKS_UNIVERSE`` on each tick so editing the universe file is
enough. A multi-ticker backfill is a single run (``BackfillPolicy.single_run``).
"""


import dagster as dg
import pandas as pd
import pyarrow as pa

from finks_assets.assets.bronze import UniverseResource, write_audit
from finks_assets.assets.fmp_lake import (
    SOURCE,
    read_json_files,
    ticker_bronze_dir,
    ticker_silver_dir,
    write_json,
)
from finks_assets.assets.fmp_outcomes import (
    check_spec,
    failure_status,
    fetch_each,
    outcome_metadata,
)
from finks_assets.lake.layout import fetch_id
from finks_assets.resources.fmp import FmpResource
from finks_assets.resources.lake import LakeResource
from finks_assets.sources.fmp import parse
from finks_assets.sources.fmp.client import FmpClient
from finks_assets.tickers import parse_universe, validate_ticker, validate_tickers

tickers_partitions = dg.DynamicPartitionsDefinition(name="tickers")
REFERENCE_DATASETS = ("profile", "income_statement", "balance_sheet_statement", "cash_flow_statement")
_PARSERS = {"profile": parse.profiles}


def _fetcher(dataset: str, client: FmpClient, fmp: FmpResource):
    if dataset == "profile":
        return client.profile
    return lambda t: client.statement(dataset, t, fmp.statement_period, fmp.statement_limit)


def _partition_tickers(context: dg.AssetExecutionContext) -> list[str]:
    return validate_tickers(context.partition_keys)


def _bronze_asset(dataset: str) -> dg.AssetsDefinition:
    key = dg.AssetKey(["bronze", f"fmp_{dataset}"])

    @dg.asset(
        key=key, group_name="bronze", partitions_def=tickers_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(), kinds={"python", "json"},
        check_specs=[check_spec(key)],
        description=f"FMP {dataset.replace('_', ' ')} per ticker, raw JSON bytes, append-only.",
    )
    def _bronze(context: dg.AssetExecutionContext, fmp: FmpResource, lake: LakeResource):
        tickers = _partition_tickers(context)
        store = lake.store()
        with fmp.client() as client:
            payloads, failures = fetch_each(tickers, _fetcher(dataset, client, fmp), context.log)
        for ticker, payload in payloads.items():
            write_json(store, ticker_bronze_dir(dataset, ticker), payload.fetched_at,
                       context.run_id, payload.raw)
        fetched_at = pd.Timestamp.now(tz="UTC")
        records = [  # reference data has no trading date: the audit files it under the fetch day
            {"run_id": context.run_id, "source": SOURCE, "dataset": dataset,
             "trade_date": fetched_at.date(), "ticker": t,
             "status": failure_status(failures[t]) if t in failures else "ok",
             "rows_received": len(payloads[t].data) if t in payloads else 0, "duplicate_rows": 0,
             "first_ts": None, "last_ts": None, "error": failures.get(t), "fetched_at": fetched_at}
            for t in tickers
        ]
        write_audit(store, SOURCE, records, fetch_id(fetched_at, context.run_id))
        metadata, check = outcome_metadata(key, tickers, failures, {"dataset": dataset})
        yield dg.MaterializeResult(metadata=metadata)
        yield check

    return _bronze


def _silver_asset(dataset: str) -> dg.AssetsDefinition:
    key = dg.AssetKey(["silver", f"fmp_{dataset}"])
    parser = _PARSERS.get(dataset, parse.statements)

    @dg.asset(
        key=key, group_name="silver", partitions_def=tickers_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[dg.AssetKey(["bronze", f"fmp_{dataset}"])], kinds={"parquet"},
        description=f"Typed FMP {dataset.replace('_', ' ')} per ticker from its latest bronze "
                    "payload" + ("" if dataset == "profile" else
                                 "; keeps filing_date and accepted_at for point-in-time joins."),
    )
    def _silver(context: dg.AssetExecutionContext, lake: LakeResource):
        store = lake.store()
        rows = {}
        for ticker in _partition_tickers(context):
            payloads = read_json_files(store, ticker_bronze_dir(dataset, ticker))
            if not payloads:
                context.log.info(f"{ticker}: no bronze {dataset} yet; partition left as it was")
                continue
            latest = payloads[-1]  # the latest fetch wins, as for bars
            frame = parser(latest.raw, validate_ticker(ticker), latest.fetched_at)
            frame = frame.drop(columns=["ticker"])  # the hive key ticker=<T> carries it
            store.replace_partition(ticker_silver_dir(dataset, ticker),
                                    pa.Table.from_pandas(frame, preserve_index=False))
            rows[ticker] = len(frame)
        return dg.MaterializeResult(metadata={
            "rows": sum(rows.values()), "tickers_written": len(rows),
            "path": dg.MetadataValue.path(store.uri(f"silver/fmp_{dataset}"))})

    return _silver


fmp_reference_assets = [
    *(_bronze_asset(d) for d in REFERENCE_DATASETS),
    *(_silver_asset(d) for d in REFERENCE_DATASETS),
]


def missing_ticker_partitions(universe: list[str], existing: list[str]) -> list[str]:
    return [t for t in universe if t not in set(existing)]


class UniverseSpecResource(dg.ConfigurableResource):
    """``FINKS_UNIVERSE`` as given (a comma list or a file path), re-read by the sensor."""

    spec: str


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Adds a `tickers` partition for every universe ticker that lacks one.")
def universe_partitions_sensor(context: dg.SensorEvaluationContext,
                               universe_spec: UniverseSpecResource):
    universe = parse_universe(universe_spec.spec)
    existing = context.instance.get_dynamic_partitions(tickers_partitions.name)
    missing = missing_ticker_partitions(universe, existing)
    if not missing:
        return dg.SkipReason(f"all {len(universe)} universe tickers have a partition")
    return dg.SensorResult(
        dynamic_partitions_requests=[tickers_partitions.build_add_request(missing)])


def ensure_ticker_partitions(instance: dg.DagsterInstance, tickers: list[str]) -> list[str]:
    """Add the missing ticker partitions (used by the CLI demo); returns what was added."""
    missing = missing_ticker_partitions(
        validate_tickers(tickers), instance.get_dynamic_partitions(tickers_partitions.name))
    if missing:
        instance.add_dynamic_partitions(tickers_partitions.name, missing)
    return missing


__all__ = ["UniverseResource", "fmp_reference_assets", "universe_partitions_sensor"]
