"""The stream domain's Dagster side: the live table is observed (data version moves when the
consumer commits), compaction is scheduled after the close and skips exchange holidays."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import dagster as dg
import pyarrow as pa

from finks_assets.defs.stream.definitions import compaction_decision
from finks_assets.defs.stream.live import live_bars_asset
from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.lake.writer import LakeWriter
from finks_assets.lib.sources.synthetic import SyntheticSource
from finks_assets.lib.stream import replay as rp
from finks_assets.lib.stream.consumer import LiveConsumer

DAY = dt.date(2025, 11, 25)


def _observe(asset: dg.SourceAsset) -> dg.AssetObservation:
    job = dg.Definitions(assets=[asset]).resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(asset_selection=[asset.key])
    [event] = [e for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    return event.event_specific_data.asset_observation


def test_live_table_is_observed_with_a_moving_data_version(tmp_path: Path) -> None:
    db = tmp_path / "live.sqlite"
    asset = live_bars_asset(db)
    assert _observe(asset).tags["dagster/data_version"] == "empty"

    store = LakeStore.local(str(tmp_path / "lake"))
    source = SyntheticSource(seed=7)
    batches = rp.plan_micro_batches(source, rp.session_payload(source, ["AAPL", "MSFT"], DAY),
                                    DAY, flush_minutes=30)
    rp.replay(LakeWriter(store), source.name, DAY, batches[:4], speed=math.inf)
    consumer = LiveConsumer(store, db, source)
    consumer.poll_once()
    first = _observe(asset)
    assert first.metadata["objects_applied"].value == 4
    assert first.metadata["bars"].value == 2 * 4 * 30
    rp.replay(LakeWriter(store), source.name, DAY, batches[4:], speed=math.inf)
    consumer.poll_once()
    consumer.close()
    second = _observe(asset)
    assert second.metadata["bars"].value == 2 * 390
    assert second.tags["dagster/data_version"] != first.tags["dagster/data_version"]


def test_compaction_runs_after_the_close_on_sessions_only() -> None:
    request = compaction_decision(DAY)
    assert isinstance(request, dg.RunRequest) and request.partition_key == "2025-11-25"
    assert isinstance(compaction_decision(dt.date(2025, 11, 27)), dg.SkipReason)  # Thanksgiving


def test_recorded_sessions_replay_like_fetched_ones(tmp_path: Path) -> None:
    source = SyntheticSource(seed=7)
    raw = rp.session_payload(source, ["AAPL"], DAY)
    path = tmp_path / "recorded.parquet"
    pa.parquet.write_table(pa.Table.from_pandas(raw.assign(_fetched_at=raw["ts"])), path)
    recorded = rp.recorded_payload(str(path))
    assert "_fetched_at" not in recorded
    assert len(rp.plan_micro_batches(source, recorded, DAY, flush_minutes=15)) == 26
