"""Every job that writes partitions is tagged for the run queue, and both queues limit the tag."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from finks_assets.defs.bars_1m.jobs import PARTITION_WRITER_TAG
from finks_assets.definitions import build_definitions
from finks_assets.lib.settings import FinksSettings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("source", ["synthetic", "fmp"])
def test_every_partitioned_job_names_the_dataset_it_writes(tmp_path: Path, source: str) -> None:
    settings = FinksSettings.from_env({
        "FINKS_DATA_DIR": str(tmp_path / "finks"), "FINKS_SOURCE": source,
        "FINKS_UNIVERSE": "AAPL", "FMP_API_KEY": "not-used",
    })
    repo = build_definitions(settings).get_repository_def()
    writers = {}
    for job in repo.get_all_jobs():
        if job.name.startswith("__") or job.partitions_def is None:
            continue  # Dagster's implicit asset jobs are not launched by Finks
        assert PARTITION_WRITER_TAG in job.tags, f"{job.name} has no {PARTITION_WRITER_TAG} tag"
        writers[job.name] = job.tags[PARTITION_WRITER_TAG]
    assert writers["daily_bars_pipeline"] == ("bars_1d" if source == "fmp" else "bars_1m")
    assert writers["landed_bars_pipeline"] == "bars_1m"
    assert writers["fmp_reference"] == "fmp_reference"
    assert writers["gold_release"] == "gold"


def _limits(entries: list[dict]) -> dict[str, dict]:
    return {entry["key"]: entry for entry in entries}


def test_local_and_helm_queues_allow_one_run_per_writer() -> None:
    local = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    helm = yaml.safe_load((ROOT / "deploy/helm/dagster/values.yaml").read_text())
    coordinator = helm["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    for limits in (_limits(local["run_queue"]["tag_concurrency_limits"]),
                   _limits(coordinator["tagConcurrencyLimits"])):
        rule = limits[PARTITION_WRITER_TAG]
        assert rule["limit"] == 1 and rule["value"] == {"applyLimitPerUniqueValue": True}

