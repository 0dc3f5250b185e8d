"""The lake's path layout, in one place.

Hive-style ``key=value`` directories let DuckDB, Athena and pyarrow prune partitions by path
alone. Only validated values (trading dates, safe source/dataset names, fetch ids, and tickers
checked by ``validate_ticker``) ever become path segments.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

from finks_assets.lib.tickers import validate_ticker

if TYPE_CHECKING:
    import pandas as pd

_SAFE_SEGMENT = re.compile(r"^[a-z0-9_]+$")


def _segment(value: str) -> str:
    if not _SAFE_SEGMENT.fullmatch(value):
        raise ValueError(f"unsafe lake path segment {value!r}")
    return value


def trade_date_key(day: dt.date | str) -> str:
    """Validate and normalise a trading-date partition key (YYYY-MM-DD)."""
    text = day.isoformat() if isinstance(day, dt.date) else str(day)
    return dt.date.fromisoformat(text).isoformat()


def fetch_id(fetched_at: pd.Timestamp, run_id: str) -> str:
    """Sortable, unique name for one fetch: UTC fetch time then the run id."""
    stamp = fetched_at.tz_convert("UTC").strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}_{_segment(run_id.replace('-', '')[:12].lower())}"


def bronze_partition_dir(source: str, dataset: str, day: dt.date | str) -> str:
    return f"bronze/source={_segment(source)}/dataset={_segment(dataset)}/trade_date={trade_date_key(day)}"


def audit_partition_dir(source: str, day: dt.date | str) -> str:
    return f"audit/ingestion/source={_segment(source)}/trade_date={trade_date_key(day)}"


def dataset_partition_dir(layer: str, dataset: str, day: dt.date | str) -> str:
    return partition_dir(layer, dataset, "trade_date", day)


PARTITION_VALUE = {"trade_date": trade_date_key, "ticker": validate_ticker}


def partition_dir(layer: str, dataset: str, key: str, value: dt.date | str) -> str:
    """``<layer>/<dataset>/<key>=<value>`` for a ``trade_date`` or ``ticker`` partition."""
    return f"{_segment(layer)}/{_segment(dataset)}/{key}={PARTITION_VALUE[key](value)}"
