"""Write a text file into the lake atomically (reports live next to the data they describe)."""

from __future__ import annotations

import uuid

from finks_assets.lake.store import LakeStore


def write_text(store: LakeStore, relative: str, text: str) -> str:
    """Write ``text`` at ``relative``; locally via temp name + rename, on S3 as one PUT."""
    final = store.path(relative)
    parent = final.rsplit("/", 1)[0]
    if store.is_local:  # on S3 a "directory" would only be an empty marker object
        store.filesystem.create_dir(parent, recursive=True)
    target = final if not store.is_local else f"{parent}/.tmp-{uuid.uuid4().hex}"
    with store.filesystem.open_output_stream(target) as stream:
        stream.write(text.encode("utf-8"))
    if target != final:
        store.filesystem.move(target, final)
    return final


def report_relative_path(layer: str, dataset: str, trade_date: str) -> str:
    """``reports/<layer>/<dataset>/trade_date=YYYY-MM-DD/report.html``."""
    from finks_assets.lake.layout import dataset_partition_dir

    return f"reports/{dataset_partition_dir(layer, dataset, trade_date)}/report.html"
