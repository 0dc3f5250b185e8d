from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from finks_assets.lib.lake.layout import bronze_partition_dir, dataset_partition_dir, trade_date_key
from finks_assets.lib.lake.store import LakeStore


def test_partition_replace_is_whole_and_leaves_no_temp_files(tmp_path: Path) -> None:
    store = LakeStore.local(str(tmp_path))
    part = dataset_partition_dir("silver", "bars_1m", "2025-11-25")
    store.write_parquet(f"{part}/stray-from-old-layout.parquet", pa.table({"x": [9]}))
    store.replace_partition(part, pa.table({"x": [1, 2]}))
    store.replace_partition(part, pa.table({"x": [3]}))
    files = sorted(p.name for p in (tmp_path / part).iterdir())
    assert files == ["part-0.parquet"]
    assert store.read_parquet(store.list_parquet(part)[0]).column("x").to_pylist() == [3]


def test_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    store = LakeStore.local(str(tmp_path))
    with pytest.raises((TypeError, AttributeError)):
        store.write_parquet("silver/x/trade_date=2025-11-25/part-0.parquet", "not a table")  # type: ignore[arg-type]
    leftovers = list((tmp_path / "silver/x/trade_date=2025-11-25").iterdir())
    assert leftovers == []


@pytest.mark.parametrize("bad", ["../x", "2025-13-01", "2025-11-25/../../etc", "today"])
def test_unsafe_partition_keys_never_become_paths(bad: str) -> None:
    with pytest.raises(ValueError):
        trade_date_key(bad)
    with pytest.raises(ValueError):
        bronze_partition_dir("synthetic", "bars_1m", bad)


def test_unsafe_source_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unsafe"):
        bronze_partition_dir("../../etc", "bars_1m", "2025-11-25")
