"""The lake writer (atomic writes of every kind, whole-partition replaces) and the path rules."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from finks_assets.lib.lake.layout import bronze_partition_dir, dataset_partition_dir, trade_date_key
from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.lake.writer import LakeWriter


def writer_at(root: Path) -> LakeWriter:
    return LakeWriter(LakeStore.local(str(root)))


def test_partition_replace_is_whole_and_leaves_no_temp_files(tmp_path: Path) -> None:
    writer = writer_at(tmp_path)
    part = dataset_partition_dir("silver", "bars_1m", "2025-11-25")
    writer.write_parquet(f"{part}/stray-from-old-layout.parquet", pa.table({"x": [9]}))
    day = pd.Timestamp("2025-11-25").date()
    writer.write_partitions("silver", "bars_1m", pd.DataFrame({"x": [1, 2], "trade_date": day}),
                            ["2025-11-25"])
    written = writer.write_partitions(
        "silver", "bars_1m", pd.DataFrame({"x": [3], "trade_date": [day]}), ["2025-11-25"])
    assert written.rows == {"2025-11-25": 1}
    assert sorted(p.name for p in (tmp_path / part).iterdir()) == ["part-0.parquet"]
    store = writer.store
    assert store.read_parquet(store.list_parquet(part)[0]).column("x").to_pylist() == [3]


def test_partitions_without_rows_get_an_empty_file_and_foreign_rows_are_refused(tmp_path: Path) -> None:
    writer = writer_at(tmp_path)
    frame = pd.DataFrame({"x": [1, 2], "trade_date": pd.to_datetime(["2025-11-24", "2025-11-24"]).date})
    written = writer.write_partitions("silver", "t", frame, ["2025-11-24", "2025-11-27"])
    assert written.rows == {"2025-11-24": 2, "2025-11-27": 0}
    assert written.schema.names == ["x"]  # trade_date is the directory, not a column
    with pytest.raises(ValueError, match="outside the run's partitions"):
        writer.write_partitions("silver", "t", frame, ["2025-11-25"])


def test_ticker_partitions_validate_the_ticker(tmp_path: Path) -> None:
    writer = writer_at(tmp_path)
    frame = pd.DataFrame({"ticker": ["BRK.B", "AAPL", "BRK.B"], "v": [1, 2, 3]})
    written = writer.write_partitions("silver", "fmp_profile", frame, ["AAPL", "BRK.B"], by="ticker")
    assert written.rows == {"AAPL": 1, "BRK.B": 2}
    assert (tmp_path / "silver/fmp_profile/ticker=BRK.B/part-0.parquet").is_file()
    with pytest.raises(ValueError, match="invalid ticker"):
        writer.write_partitions("silver", "fmp_profile", frame.assign(ticker="../etc"), ["../etc"],
                                by="ticker")


class RecordingCatalog:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def register(self, *args) -> int:
        self.calls.append(args)
        return 0


def test_with_a_catalog_every_typed_write_is_registered(tmp_path: Path) -> None:
    catalog = RecordingCatalog()
    writer = LakeWriter(LakeStore.local(str(tmp_path)), catalog)  # type: ignore[arg-type]
    untyped = pd.DataFrame({"ticker": pd.Series([], dtype=object), "x": pd.Series([], dtype=object)})
    writer.write_partitions("silver", "fmp_profile", untyped, ["AAPL"], by="ticker")
    assert catalog.calls == []  # no rows and no types: a Glue table made from it would be all-string
    writer.write_partitions("silver", "fmp_profile", pd.DataFrame({"ticker": ["AAPL"], "x": [1.5]}),
                            ["AAPL", "MSFT"], by="ticker")
    (table, location, schema, key, partitions), = catalog.calls
    assert (table, key, schema.names) == ("silver_fmp_profile", "ticker", ["x"])
    assert location == f"{tmp_path}/silver/fmp_profile/"
    assert partitions == {t: f"{tmp_path}/silver/fmp_profile/ticker={t}/" for t in ("AAPL", "MSFT")}


@pytest.mark.parametrize("write", [
    lambda w, rel: w.write_parquet(rel, "not a table"),  # type: ignore[arg-type]
    lambda w, rel: w.write_bytes(rel, "not bytes"),  # type: ignore[arg-type]
])
def test_a_failed_write_leaves_nothing_behind(tmp_path: Path, write) -> None:
    writer = writer_at(tmp_path)
    with pytest.raises((TypeError, AttributeError)):
        write(writer, "reports/silver/x/trade_date=2025-11-25/out.file")
    assert list((tmp_path / "reports/silver/x/trade_date=2025-11-25").iterdir()) == []


def test_text_and_bytes_land_whole(tmp_path: Path) -> None:
    writer = writer_at(tmp_path)
    path = writer.write_text("reports/a/report.html", "<p>é</p>")
    assert Path(path).read_text(encoding="utf-8") == "<p>é</p>"
    path = writer.write_bytes("bronze/source=fmp/dataset=profile/ticker=A/x.json", b"[1]")
    assert Path(path).read_bytes() == b"[1]"
    assert [p.name for p in Path(path).parent.iterdir()] == ["x.json"]


@pytest.mark.parametrize("bad", ["../x", "2025-13-01", "2025-11-25/../../etc", "today"])
def test_unsafe_partition_keys_never_become_paths(bad: str) -> None:
    with pytest.raises(ValueError):
        trade_date_key(bad)
    with pytest.raises(ValueError):
        bronze_partition_dir("synthetic", "bars_1m", bad)


def test_unsafe_source_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unsafe"):
        bronze_partition_dir("../../etc", "bars_1m", "2025-11-25")
