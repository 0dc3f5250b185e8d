"""Read a run's bronze 1-minute payloads (Finks' own fetches and landed files) for silver.

Fetches that a strictly newer, complete fetch of the same day replaces row for row are left
unread (see :mod:`superseded_fetches`); their rows are still counted.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from finks_assets.lib import market_calendar
from finks_assets.lib.lake.landing import landing_partition_dir
from finks_assets.lib.lake.layout import audit_partition_dir, bronze_partition_dir
from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.sources.base import BarSource
from finks_assets.lib.transforms.bronze_audit import BARS_DATASET
from finks_assets.lib.transforms.silver_bars import canonical_from_bronze
from finks_assets.lib.transforms.superseded_fetches import SkippedFetches, superseded_fetches


def read_bronze_bars(
    store: LakeStore, source: BarSource, days: list[dt.date]
) -> tuple[pd.DataFrame, int]:
    """All bronze payloads of ``source`` for ``days``, mapped to canonical columns, and the
    number of rows in fetches left unread because a newer fetch replaces all of them.

    Files are read as Arrow and mapped in one pass for the whole chunk (see
    ``canonical_from_bronze``), not converted to pandas one by one.
    """
    tables, file_days, skipped_rows = [], [], 0
    for day in days:
        fetches = store.list_parquet(bronze_partition_dir(source.name, BARS_DATASET, day))
        skipped = SkippedFetches.none() if len(fetches) < 2 else superseded_fetches(
            read_day_audit(store, source.name, day), market_calendar.session(day),
            {_stem(path) for path in fetches},
        )
        skipped_rows += skipped.rows
        # Finks' own fetches, then payloads a vendor or person dropped under landing/ (S3 sensor).
        landed = store.list_parquet(landing_partition_dir(source.name, BARS_DATASET, day))
        for path in [p for p in fetches if _stem(p) not in skipped.names] + landed:
            table = store.read_parquet(path)
            if table.num_rows:
                tables.append(table)
                file_days.append(day)
    return canonical_from_bronze(source, tables, file_days), skipped_rows


def read_day_audit(store: LakeStore, source: str, day: dt.date) -> pd.DataFrame:
    """The day's ingestion audit records, each tagged with its fetch (the bronze file stem)."""
    frames = [
        store.read_parquet(path).to_pandas().assign(fetch=_stem(path))
        for path in store.list_parquet(audit_partition_dir(source, day))
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _stem(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(".parquet")
