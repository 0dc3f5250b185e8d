"""The S3 arrival sensor against a real S3 server (SeaweedFS, one per module).

Objects are uploaded with boto3 to the landing prefix of the bronze bucket and the sensor is
evaluated with ``build_sensor_context`` against a Dagster instance, the way the daemon does:
one run per new object for the object's trading day, none on the next evaluation, bad keys
(and sources other than FINKS_SOURCE) skipped with a reason. One requested run is then
executed to show the landed payload reaches silver.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finks_assets.definitions import build_definitions
from finks_assets.defs.bars_1m.landing_sensor import LANDED_BARS_JOB, LANDING_KEY_TAG
from finks_assets.defs.bars_1m.silver import SILVER_BARS, SILVER_QUARANTINE
from finks_assets.lib.dbt.project import DBT_PROJECT_DIR
from finks_assets.lib.lake.landing import ArrivalCursor, LandedObject, new_arrivals
from finks_assets.lib.settings import FinksSettings
from finks_assets.lib.sources.synthetic import SyntheticSource
from finks_assets_tests.support.seaweedfs import S3Server

BUCKET = "sensor-bronze"
DAY = dt.date(2025, 11, 24)
LANDED = f"landing/source=synthetic/dataset=bars_1m/trade_date={DAY}/vendor-drop-1.parquet"


def landed_payload(tickers: list[str], day: dt.date) -> bytes:
    """A bronze-shaped payload: the vendor's columns plus the _ticker/_fetched_at lineage."""
    fetch = SyntheticSource(seed=7).fetch_bars_1m(tickers, [day])
    frame = pd.concat(
        [fetch.frames[t].assign(_ticker=t) for t in tickers], ignore_index=True
    ).assign(_fetched_at=pd.Timestamp("2025-11-24T22:00:00Z"))
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    return sink.getvalue()


def evaluate(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None):
    sensor = defs.get_sensor_def("s3_arrival_sensor")
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs,
        resources={"lake": defs.resources["lake"], "market_data": defs.resources["market_data"]},
    )
    return sensor.evaluate_tick(context)


@pytest.fixture
def env(s3_server: S3Server, tmp_path: Path):
    settings = FinksSettings.from_env({
        "FINKS_ENV": "s3", "FINKS_DATA_DIR": str(tmp_path / "finks"), "FINKS_UNIVERSE": "AAPL",
        "FINKS_BRONZE_BUCKET": BUCKET, "FINKS_SILVER_BUCKET": "sensor-silver",
        **s3_server.environ(),
    })
    defs = build_definitions(settings)
    defs.resources["lake"].store()  # s3 mode creates the (empty) buckets
    client = s3_server.client()
    yield settings, defs, client
    for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=obj["Key"])


def test_one_run_per_new_object_and_none_on_the_next_evaluation(env) -> None:
    _, defs, client = env
    with dg.instance_for_test() as instance:
        assert evaluate(defs, instance, None).run_requests == []  # nothing landed yet

        client.put_object(Bucket=BUCKET, Key=LANDED, Body=landed_payload(["AAPL"], DAY))
        first = evaluate(defs, instance, None)
        assert [(r.partition_key, r.tags[LANDING_KEY_TAG]) for r in first.run_requests] == [
            ("2025-11-24", LANDED)
        ]
        assert first.run_requests[0].run_key.startswith(f"{LANDED}@")

        second = evaluate(defs, instance, first.cursor)
        assert second.run_requests == []
        assert second.cursor in (None, first.cursor)

        later = LANDED.replace("2025-11-24", "2025-11-25").replace("drop-1", "drop-2")
        client.put_object(Bucket=BUCKET, Key=later, Body=landed_payload(["AAPL"], DAY))
        third = evaluate(defs, instance, first.cursor)
        assert [r.partition_key for r in third.run_requests] == ["2025-11-25"]


def test_unexpected_objects_are_skipped_with_a_reason_not_a_crash(env, capfd) -> None:
    _, defs, client = env
    bad_keys = [
        "landing/README.txt",
        "landing/source=synthetic/dataset=bars_1m/trade_date=2025-13-40/x.parquet",
        "landing/source=synthetic/dataset=bars_1m/trade_date=2025-11-27/thanksgiving.parquet",
        "landing/source=synthetic/dataset=profiles/trade_date=2025-11-24/p.parquet",
        "landing/source=acme/dataset=bars_1m/trade_date=2025-11-24/a.parquet",  # not FINKS_SOURCE
    ]
    for key in bad_keys:
        client.put_object(Bucket=BUCKET, Key=key, Body=b"not parquet")
    with dg.instance_for_test() as instance:
        result = evaluate(defs, instance, None)
    assert result.run_requests == []
    assert result.cursor is not None  # the bad objects are consumed, not retried forever
    logged = capfd.readouterr().err  # the sensor's context.log writes to stderr
    assert "does not match landing/" in logged
    assert "2025-11-27 is not a trading-day partition" in logged  # holidays are no partitions
    assert "has no landing pipeline" in logged
    assert "source 'acme' is not the configured bar source 'synthetic'" in logged


def test_the_requested_run_brings_the_landed_payload_into_silver(env) -> None:
    settings, defs, client = env
    if not (DBT_PROJECT_DIR / "target" / "manifest.json").exists():
        pytest.skip("dbt manifest missing: run `make manifest` (make test does it first)")
    assert {SILVER_BARS, SILVER_QUARANTINE} < set(
        defs.resolve_job_def(LANDED_BARS_JOB).asset_layer.executable_asset_keys
    )
    client.put_object(Bucket=BUCKET, Key=LANDED, Body=landed_payload(["AAPL", "MSFT"], DAY))
    with dg.instance_for_test() as instance:
        request = evaluate(defs, instance, None).run_requests[0]
        # Silver only: gold over silver is covered by test_storage_s3; this keeps the module fast.
        result = defs.resolve_job_def(LANDED_BARS_JOB).execute_in_process(
            instance=instance, partition_key=request.partition_key, tags=request.tags,
            asset_selection=[SILVER_BARS, SILVER_QUARANTINE],
        )
    assert result.success
    store = defs.resources["lake"].store()
    silver = store.read_parquet(store.path(f"silver/bars_1m/trade_date={DAY}/part-0.parquet"))
    assert sorted(set(silver.column("ticker").to_pylist())) == ["AAPL", "MSFT"]
    assert silver.num_rows == 2 * 390  # two tickers, one full session of 1-minute bars


def test_cursor_follows_last_modified_not_key_order() -> None:
    """A late object whose key sorts first is still new (dagster issue #22892)."""
    t0 = dt.datetime(2025, 11, 24, 22, 0, tzinfo=dt.UTC)
    seen = [LandedObject("landing/b", t0, "1"), LandedObject("landing/c", t0, "2")]
    cursor = ArrivalCursor().advanced(seen)
    late = LandedObject("landing/a", t0 + dt.timedelta(seconds=5), "3")
    same_second = LandedObject("landing/d", t0, "4")
    restored = ArrivalCursor.parse(cursor.serialize())
    assert new_arrivals([*seen, late, same_second], restored, limit=10) == [same_second, late]
    assert new_arrivals([*seen, late, same_second], restored, limit=1) == [same_second]


def test_local_mode_reports_a_skip(tmp_path: Path) -> None:
    defs = build_definitions(FinksSettings.from_env({"FINKS_DATA_DIR": str(tmp_path)}))
    with dg.instance_for_test() as instance:
        result = evaluate(defs, instance, None)
    assert result.run_requests == [] and "FINKS_ENV=local" in result.skip_message
