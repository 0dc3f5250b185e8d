"""FMP per-ticker datasets (company profile, income / balance-sheet / cash-flow statements),
partitioned by ticker through the dynamic partitions ``tickers``.

Profiles and statements have no trading-date axis, so ticker is the natural partition here (the
brief's decision 1 allows it), and one ticker can be (re)fetched from the UI. Partitions come
from the universe: :func:`universe_partitions_sensor` adds every universe ticker that has no
partition yet, re-reading ``FINKS_UNIVERSE`` on each tick so editing the universe file is
enough. A multi-ticker backfill is a single run (``BackfillPolicy.single_run``).
"""


import dagster as dg

from finks_assets.defs.fmp.outcomes import (
    FMP_POOL,
    FMP_RETRY_POLICY,
    check_spec,
    failure_status,
    fetch_each,
    outcome_metadata,
)
from finks_assets.lib.lake.fmp_layout import SOURCE, json_name, read_json_files, ticker_bronze_dir
from finks_assets.lib.lake.layout import fetch_id
from finks_assets.lib.resources.fmp import FmpResource
from finks_assets.lib.resources.lake import LakeResource
from finks_assets.lib.resources.universe import UniverseSpecResource
from finks_assets.lib.sources.fmp import parse
from finks_assets.lib.tickers import parse_universe, validate_tickers
from finks_assets.lib.transforms.bronze_audit import write_audit

tickers_partitions = dg.DynamicPartitionsDefinition(name="tickers")
REFERENCE_DATASETS = ("profile", "income_statement", "balance_sheet_statement", "cash_flow_statement")
_PARSERS = {"profile": parse.profiles}


def _fetcher(dataset: str, fmp: FmpResource):
    if dataset == "profile":
        return lambda client, t: client.profile(t)
    return lambda client, t: client.statement(dataset, t, fmp.statement_period, fmp.statement_limit)


def _bronze_asset(dataset: str) -> dg.AssetsDefinition:
    key = dg.AssetKey(["bronze", f"fmp_{dataset}"])

    @dg.asset(
        key=key, group_name="bronze", partitions_def=tickers_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(), kinds={"python", "json"},
        pool=FMP_POOL, retry_policy=FMP_RETRY_POLICY, check_specs=[check_spec(key)],
        description=f"FMP {dataset.replace('_', ' ')} per ticker, raw JSON bytes, append-only.",
    )
    def _bronze(context: dg.AssetExecutionContext, fmp: FmpResource, lake: LakeResource):
        import pandas as pd
        tickers = validate_tickers(context.partition_keys)
        writer = lake.writer()
        payloads, failures = fetch_each(fmp, tickers, _fetcher(dataset, fmp), context.log)
        for ticker, payload in payloads.items():
            writer.write_bytes(json_name(ticker_bronze_dir(dataset, ticker), payload.fetched_at,
                                         context.run_id), payload.raw)
        fetched_at = pd.Timestamp.now(tz="UTC")
        records = [  # reference data has no trading date: the audit files it under the fetch day
            {"run_id": context.run_id, "source": SOURCE, "dataset": dataset,
             "trade_date": fetched_at.date(), "ticker": t,
             "status": failure_status(failures[t]) if t in failures else "ok",
             "rows_received": len(payloads[t].data) if t in payloads else 0, "duplicate_rows": 0,
             "first_ts": None, "last_ts": None, "error": failures.get(t), "fetched_at": fetched_at}
            for t in tickers
        ]
        write_audit(writer, SOURCE, records, fetch_id(fetched_at, context.run_id))
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
        import pandas as pd
        frames = {}
        for ticker in validate_tickers(context.partition_keys):
            payloads = read_json_files(lake.store(), ticker_bronze_dir(dataset, ticker))
            if not payloads:
                context.log.info(f"{ticker}: no bronze {dataset} yet; partition left as it was")
                continue
            latest = payloads[-1]  # the latest fetch wins, as for bars
            frames[ticker] = parser(latest.raw, ticker, latest.fetched_at)
        if frames:  # one partition per ticker, ticker=<T>/ (registered in Glue in aws mode)
            lake.writer().write_partitions(
                "silver", key.path[1], pd.concat(frames.values(), ignore_index=True), frames,
                by="ticker")
        for ticker, frame in frames.items():
            context.add_asset_metadata({"dagster/row_count": len(frame)}, partition_key=ticker)
        return dg.MaterializeResult(metadata={
            "rows": sum(len(f) for f in frames.values()), "tickers_written": len(frames),
            "path": dg.MetadataValue.path(lake.store().uri(f"silver/{key.path[1]}"))})

    return _silver


fmp_reference_assets = [
    *(_bronze_asset(d) for d in REFERENCE_DATASETS),
    *(_silver_asset(d) for d in REFERENCE_DATASETS),
]


def missing_ticker_partitions(universe: list[str], existing: list[str]) -> list[str]:
    return [t for t in universe if t not in set(existing)]


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
