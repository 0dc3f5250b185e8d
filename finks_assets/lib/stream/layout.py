"""Where micro-batches land, and how their names sort.

The layout is the one a Kinesis Data Firehose delivery stream or a Kafka Connect S3 sink
writes: an object per (ticker group, flush interval), under a time-partitioned prefix, named
so that a plain key listing comes back in time order::

    landing/source=<source>/dataset=bars_1m_stream/trade_date=YYYY-MM-DD/
        <window start, UTC, YYYYMMDDTHHMMSSZ>-g<group, 3 digits>.parquet

It sits under the existing ``landing/`` prefix (same bucket, same key grammar as
:mod:`finks_assets.lib.lake.landing`) but in its own dataset, ``bars_1m_stream``, so the batch
pipeline never reads it: ``read_bronze`` only reads ``dataset=bars_1m`` and the S3 arrival
sensor skips other datasets. Names are deterministic (window and group), so replaying a
window again overwrites its object instead of adding a duplicate.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from finks_assets.lib.lake.landing import landing_partition_dir
from finks_assets.lib.lake.layout import trade_date_key

if TYPE_CHECKING:
    import pandas as pd

STREAM_DATASET = "bars_1m_stream"
_NAME = re.compile(r"^(?P<stamp>[0-9]{8}T[0-9]{6}Z)-g(?P<group>[0-9]{3})\.parquet$")
_DAY_DIR = re.compile(r"trade_date=(?P<day>[0-9]{4}-[0-9]{2}-[0-9]{2})/[^/]+$")


def stream_prefix(source: str) -> str:
    """``landing/source=<source>/dataset=bars_1m_stream`` (every day under it)."""
    return landing_partition_dir(source, STREAM_DATASET, "2000-01-03").rsplit("/", 1)[0]


def stream_day_dir(source: str, day: dt.date | str) -> str:
    return landing_partition_dir(source, STREAM_DATASET, trade_date_key(day))


def micro_batch_name(window_start: pd.Timestamp, group: int) -> str:
    if not 0 <= group < 1000:
        raise ValueError(f"ticker group {group} out of range 0..999")
    return f"{window_start.tz_convert('UTC'):%Y%m%dT%H%M%SZ}-g{group:03d}.parquet"


def micro_batch_path(source: str, day: dt.date, window_start: pd.Timestamp, group: int) -> str:
    return f"{stream_day_dir(source, day)}/{micro_batch_name(window_start, group)}"


@dataclass(frozen=True, order=True)
class MicroBatchKey:
    """A parsed micro-batch path: sorts by window start, then group."""

    window_start: pd.Timestamp
    group: int
    trade_date: dt.date
    path: str


def parse_micro_batch(path: str) -> MicroBatchKey | None:
    """The key of a micro-batch path, or None for anything else (a stray file)."""
    import pandas as pd
    name = path.rsplit("/", 1)[-1]
    match, day = _NAME.fullmatch(name), _DAY_DIR.search(path)
    if not match or not day:
        return None
    stamp = pd.Timestamp(dt.datetime.strptime(match["stamp"], "%Y%m%dT%H%M%SZ"), tz="UTC")
    return MicroBatchKey(stamp, int(match["group"]), dt.date.fromisoformat(day["day"]), path)
