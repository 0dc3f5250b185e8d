"""End-of-day compaction: the streamed day ends as the normal silver partition.

* through real Dagster (the compaction asset), the compacted silver equals a batch ingest of
  the same bars (bronze -> silver assets): same digest; one file instead of hundreds of
  objects; the micro-batches are gone; silver is sorted by (ticker, ts);
* ``kill -9`` at three moments (bronze payload written, silver written, half-way through the
  deletions), each followed by a re-run: something readable at every point, and the end
  result is identical -- nothing lost, nothing doubled.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from finks_assets.defs.bars_1m.bronze import bronze_bars_1m
from finks_assets.defs.bars_1m.silver import silver_bars_1m
from finks_assets.defs.stream.compaction import stream_bars_1m_compaction
from finks_assets.lib.lake.layout import dataset_partition_dir
from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.lake.writer import LakeWriter
from finks_assets.lib.quality.thresholds import BarQualityThresholds
from finks_assets.lib.resources.factory import build_resources
from finks_assets.lib.settings import FinksSettings
from finks_assets.lib.sources.synthetic import SyntheticSource
from finks_assets.lib.stream import replay as rp
from finks_assets.lib.stream.compaction import (
    compact_day,
    compacted_payload_paths,
    micro_batch_paths,
    read_silver_day,
    silver_digest,
)
from finks_assets.lib.stream.scan import time_vwap_scan

DAY = dt.date(2025, 11, 25)
TICKERS = [f"S{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(12)]


def _settings(data_dir: Path) -> FinksSettings:
    return FinksSettings.from_env({"FINKS_DATA_DIR": str(data_dir),
                                   "FINKS_UNIVERSE": ",".join(TICKERS)})


def _replay(store: LakeStore) -> int:
    source = SyntheticSource(seed=7)
    raw = rp.session_payload(source, TICKERS, DAY)
    batches = rp.plan_micro_batches(source, raw, DAY, flush_minutes=1, group_size=6)
    return rp.replay(LakeWriter(store), source.name, DAY, batches, speed=math.inf).objects


@pytest.fixture(scope="module")
def batch_digest(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The reference: the same bars fetched and cleaned by the batch assets."""
    settings = _settings(tmp_path_factory.mktemp("batch") / "finks")
    result = dg.materialize([bronze_bars_1m, silver_bars_1m],
                            resources=build_resources(settings), partition_key=DAY.isoformat())
    assert result.success
    silver = read_silver_day(LakeStore.local(str(settings.lake_root)), DAY)
    assert len(silver) == len(TICKERS) * 390
    return silver_digest(silver)


def test_compaction_asset_equals_a_batch_ingest(tmp_path: Path, batch_digest: str) -> None:
    settings = _settings(tmp_path / "finks")
    store = LakeStore.local(str(settings.lake_root))
    objects = _replay(store)
    assert objects == len(micro_batch_paths(store, "synthetic", DAY)) == 2 * 390
    before = time_vwap_scan(store, micro_batch_paths(store, "synthetic", DAY), repeats=1)

    result = dg.materialize([stream_bars_1m_compaction], resources=build_resources(settings),
                            partition_key=DAY.isoformat(), selection=[stream_bars_1m_compaction.key])
    assert result.success
    silver_events = [e for e in result.get_asset_materialization_events()
                     if e.asset_key == dg.AssetKey(["silver", "bars_1m"])]
    assert [e.partition for e in silver_events] == [DAY.isoformat()]

    files = store.list_parquet(dataset_partition_dir("silver", "bars_1m", DAY))
    after = time_vwap_scan(store, files, repeats=1)
    assert (before.files, after.files) == (2 * 390, 1) and before.rows == after.rows
    silver = read_silver_day(store, DAY)
    assert silver_digest(silver) == batch_digest
    ordered = silver.sort_values(["ticker", "ts"], ignore_index=True)
    pd.testing.assert_frame_equal(silver.reset_index(drop=True), ordered)
    assert micro_batch_paths(store, "synthetic", DAY) == []  # originals removed after verify
    # Re-running after success changes nothing.
    again = compact_day(store, LakeWriter(store), SyntheticSource(seed=7), DAY,
                        BarQualityThresholds())
    assert again.status == "nothing_to_do" and silver_digest(read_silver_day(store, DAY)) == \
        batch_digest


_CHILD = textwrap.dedent("""
    import datetime as dt, os, signal, sys
    from finks_assets.lib.lake.store import LakeStore
    from finks_assets.lib.lake.writer import LakeWriter
    from finks_assets.lib.quality.thresholds import BarQualityThresholds
    from finks_assets.lib.sources.synthetic import SyntheticSource
    from finks_assets.lib.stream.compaction import compact_day

    root, moment, at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    seen = {"n": 0}

    def step(name):
        if name == moment:
            seen["n"] += 1
            if seen["n"] == at:
                os.kill(os.getpid(), signal.SIGKILL)  # kill -9: no cleanup, no finally

    store = LakeStore.local(root)
    compact_day(store, LakeWriter(store), SyntheticSource(seed=7), dt.date(2025, 11, 25),
                BarQualityThresholds(), on_step=step)
    sys.exit(3)  # not killed: the moment never came
""")


@pytest.mark.parametrize(("moment", "at"), [
    ("bronze_written", 1), ("silver_written", 1), ("micro_batch_deleted", 17),
])
def test_kill_9_during_compaction_then_rerun(tmp_path: Path, batch_digest: str,
                                             moment: str, at: int) -> None:
    store = LakeStore.local(str(tmp_path / "lake"))
    total = _replay(store)
    child = subprocess.run([sys.executable, "-c", _CHILD, store.root, moment, str(at)],
                           capture_output=True, timeout=600, env=os.environ.copy())
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]

    left = micro_batch_paths(store, "synthetic", DAY)
    silver = read_silver_day(store, DAY)
    # Readable at the moment of the crash: all micro-batches, or the verified silver day.
    expected_left = total - at if moment == "micro_batch_deleted" else total
    assert len(left) == expected_left
    if moment != "bronze_written":
        assert silver_digest(silver) == batch_digest
    else:
        assert silver.empty

    rerun = compact_day(store, LakeWriter(store), SyntheticSource(seed=7), DAY,
                        BarQualityThresholds())
    assert rerun.status == "compacted" and rerun.removed == expected_left
    assert micro_batch_paths(store, "synthetic", DAY) == []
    final = read_silver_day(store, DAY)
    assert len(final) == len(TICKERS) * 390 and silver_digest(final) == batch_digest
    payloads = compacted_payload_paths(store, "synthetic", DAY)
    assert len(payloads) == 1  # the re-run rewrote the same payload, not a second copy
    payload = store.read_parquet(payloads[0]).to_pandas()
    assert len(payload) == len(TICKERS) * 390
    assert not payload.duplicated(["_ticker", "ts"]).any()
