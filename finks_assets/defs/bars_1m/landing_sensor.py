"""The S3 arrival sensor: a file landing in the bronze bucket triggers silver -> gold for its day.

Each new object under ``landing/`` (see :mod:`finks_assets.lib.lake.landing`) becomes one run of
the silver-and-downstream job for the object's trading-date partition, with
``run_key = <key>@<etag>`` so Dagster never launches the same object twice (a re-upload with
new content has a new ETag and runs again). The cursor is the newest last-modified time seen.
Keys that do not parse, other datasets, sources other than the configured one
(``FINKS_SOURCE``: silver only reads that source's payloads, so a run for another would
change nothing), and days that are not XNYS sessions are skipped with a logged reason; they
never crash the sensor. In ``local`` mode there is no bucket to watch and
the sensor only reports a skip, so the same definitions load everywhere.
"""

from __future__ import annotations

import dagster as dg

from finks_assets.defs.bars_1m.silver import SILVER_BARS, SILVER_QUARANTINE
from finks_assets.lib.lake.landing import (
    LANDING_ZONE,
    ArrivalCursor,
    list_landed,
    new_arrivals,
    parse_landed_key,
)
from finks_assets.lib.partitions import trading_days
from finks_assets.lib.resources.lake import LakeResource
from finks_assets.lib.resources.market_data import MarketDataResource
from finks_assets.lib.stream.layout import STREAM_DATASET
from finks_assets.lib.transforms.bronze_audit import BARS_DATASET

LANDED_BARS_JOB = "landed_bars_pipeline"
MAX_OBJECTS_PER_TICK = 200
LANDING_KEY_TAG = "finks/landing_key"

landed_bars_job = dg.define_asset_job(
    name=LANDED_BARS_JOB,
    # Silver, everything built from it, and the gold assets those also read (the dbt seed) --
    # never bronze (the payload already landed: nothing is fetched from a vendor) nor another
    # dataset's silver (FMP EOD, corporate actions: run here, they would re-read their bronze).
    selection=(
        dg.AssetSelection.assets(SILVER_BARS, SILVER_QUARANTINE).downstream()
        | (dg.AssetSelection.assets(SILVER_BARS, SILVER_QUARANTINE).downstream().upstream()
           & dg.AssetSelection.groups("gold"))
    ),
    partitions_def=trading_days,
    description="Silver -> gold for a trading day whose bronze payload landed in the bucket.",
)


def arrival_requests(
    context: dg.SensorEvaluationContext, lake: LakeResource, source: str
) -> dg.SensorResult | dg.SkipReason:
    """One run request per new landed object of ``source`` (the configured bar source)."""
    if lake.env == "local":
        return dg.SkipReason("FINKS_ENV=local: no bucket to watch (S3 arrivals need s3 or aws)")
    bucket = lake.zone_buckets[LANDING_ZONE]
    cursor = ArrivalCursor.parse(context.cursor)
    arrivals = new_arrivals(
        list_landed(lake.s3_client(), bucket, f"{LANDING_ZONE}/"), cursor, MAX_OBJECTS_PER_TICK
    )
    if not arrivals:
        return dg.SkipReason(f"no new objects under s3://{bucket}/{LANDING_ZONE}/")
    requests = []
    valid_keys = set(trading_days.get_partition_keys())
    for obj in arrivals:
        reason = None
        try:
            landed = parse_landed_key(obj)
        except ValueError as exc:
            reason = str(exc)
        else:
            key = landed.trade_date.isoformat()
            if landed.dataset == STREAM_DATASET:
                continue  # micro-batches: `finks stream-consume` reads them, compaction lands them
            if landed.source != source:
                reason = (f"source {landed.source!r} is not the configured bar source "
                          f"{source!r} (FINKS_SOURCE); silver reads only {source!r} payloads")
            elif landed.dataset != BARS_DATASET:
                reason = f"dataset {landed.dataset!r} has no landing pipeline (only {BARS_DATASET})"
            elif key not in valid_keys:
                reason = f"{key} is not a trading-day partition (an XNYS session)"
        if reason:
            context.log.warning(f"skipping s3://{bucket}/{obj.key}: {reason}")
            continue
        requests.append(dg.RunRequest(
            run_key=f"{obj.key}@{obj.etag}",
            partition_key=key,
            tags={LANDING_KEY_TAG: obj.key},
        ))
    return dg.SensorResult(run_requests=requests, cursor=cursor.advanced(arrivals).serialize())


@dg.sensor(
    job=landed_bars_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="New bronze payloads under landing/ in the bronze bucket -> silver and gold runs.",
)
def s3_arrival_sensor(
    context: dg.SensorEvaluationContext, lake: LakeResource, market_data: MarketDataResource
):
    return arrival_requests(context, lake, market_data.source)
