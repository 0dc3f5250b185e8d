"""Pruning of dagster-dbt's per-run target folders (real folders, real modification times)."""

from __future__ import annotations

import os
from pathlib import Path

from finks_assets.lib.dbt.artifacts import prune_invocation_dirs


def make_invocation(target: Path, name: str, mtime: int) -> Path:
    folder = target / name
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("{}")
    os.utime(folder, (mtime, mtime))
    return folder


def test_keeps_the_newest_and_never_touches_dbt_own_files(tmp_path: Path) -> None:
    target = tmp_path / "target"
    runs = [make_invocation(target, f"finks_dbt-{i:07x}-abcdef{i}", 1_000 + i) for i in range(6)]
    (target / "compiled").mkdir()
    (target / "manifest.json").write_text("{}")
    (target / "partial_parse.msgpack").write_bytes(b"\x00")
    (target / "notes-not-ours").mkdir()

    assert prune_invocation_dirs(target, keep=2) == 4

    left = sorted(p.name for p in target.iterdir())
    assert left == sorted([runs[4].name, runs[5].name, "compiled", "manifest.json",
                           "notes-not-ours", "partial_parse.msgpack"])


def test_nothing_to_do(tmp_path: Path) -> None:
    assert prune_invocation_dirs(tmp_path / "missing") == 0
    make_invocation(tmp_path, "finks_dbt_fmp_reference-0123abc-4567def", 5)
    assert prune_invocation_dirs(tmp_path, keep=1) == 0
    assert (tmp_path / "finks_dbt_fmp_reference-0123abc-4567def").is_dir()


def test_manifest_is_stale_only_when_a_dbt_source_is_newer(tmp_path: Path) -> None:
    from finks_assets.lib.dbt.project import manifest_is_stale

    (tmp_path / "models" / "marts").mkdir(parents=True)
    model = tmp_path / "models" / "marts" / "fct.sql"
    model.write_text("select 1")
    manifest = tmp_path / "target" / "manifest.json"
    assert manifest_is_stale(tmp_path, manifest)  # never parsed

    manifest.parent.mkdir()
    manifest.write_text("{}")
    os.utime(model, (1_000, 1_000))
    os.utime(manifest, (2_000, 2_000))
    assert not manifest_is_stale(tmp_path, manifest)

    os.utime(model, (3_000, 3_000))  # the model was edited after the parse
    assert manifest_is_stale(tmp_path, manifest)
