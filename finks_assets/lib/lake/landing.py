"""The landing prefix: where vendors (or people) drop bronze payloads for Finks to pick up.

Layout, in the bronze bucket::

    landing/source=<source>/dataset=bars_1m/trade_date=YYYY-MM-DD/<name>.parquet

A landed file has the bronze payload shape (the vendor's columns plus ``_ticker`` and
``_fetched_at``); silver reads it together with the bronze fetches of the same trading day.
Listing follows S3's continuation tokens (boto3's ListObjectsV2 paginator) and new objects are
found by **last-modified time**, not by key order: a late file can sort before keys already
seen (dagster issue #22892), so a "start after the last key" cursor would miss it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from finks_assets.lib.lake.layout import trade_date_key

LANDING_ZONE = "landing"
_LANDED_KEY = re.compile(
    r"^landing/source=(?P<source>[a-z0-9_]+)/dataset=(?P<dataset>[a-z0-9_]+)/"
    r"trade_date=(?P<day>[0-9]{4}-[0-9]{2}-[0-9]{2})/(?P<name>[A-Za-z0-9][A-Za-z0-9._\-]*\.parquet)$"
)


def landing_partition_dir(source: str, dataset: str, day: dt.date | str) -> str:
    return f"{LANDING_ZONE}/source={source}/dataset={dataset}/trade_date={trade_date_key(day)}"


@dataclass(frozen=True)
class LandedObject:
    key: str
    last_modified: dt.datetime
    etag: str


@dataclass(frozen=True)
class LandedFile:
    """A landed object whose key parsed: what it is and which trading day it belongs to."""

    obj: LandedObject
    source: str
    dataset: str
    trade_date: dt.date


def parse_landed_key(obj: LandedObject) -> LandedFile:
    """Map a key to its source, dataset and trading date; ValueError says why it cannot."""
    match = _LANDED_KEY.fullmatch(obj.key)
    if not match:
        raise ValueError(
            "key does not match landing/source=<source>/dataset=<dataset>/"
            "trade_date=YYYY-MM-DD/<name>.parquet"
        )
    day = dt.date.fromisoformat(trade_date_key(match["day"]))
    return LandedFile(obj, match["source"], match["dataset"], day)


def list_landed(client, bucket: str, prefix: str = f"{LANDING_ZONE}/") -> Iterator[LandedObject]:
    """Every object under ``prefix``, page by page (ListObjectsV2 returns 1000 per page)."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].endswith("/"):
                continue  # a "directory" marker some tools create
            yield LandedObject(item["Key"], item["LastModified"], item.get("ETag", "").strip('"'))


@dataclass(frozen=True)
class ArrivalCursor:
    """Newest last-modified time seen, plus the keys seen at exactly that time.

    S3 timestamps have one-second resolution, so several objects can share the newest time;
    remembering their keys lets a later object with the same second still count as new.
    """

    last_modified: dt.datetime | None = None
    keys_at_last_modified: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str | None) -> ArrivalCursor:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(dt.datetime.fromisoformat(data["last_modified"]), frozenset(data["keys"]))

    def serialize(self) -> str:
        stamp = self.last_modified.isoformat() if self.last_modified else None
        return json.dumps({"last_modified": stamp, "keys": sorted(self.keys_at_last_modified)})

    def is_new(self, obj: LandedObject) -> bool:
        if self.last_modified is None or obj.last_modified > self.last_modified:
            return True
        return obj.last_modified == self.last_modified and obj.key not in self.keys_at_last_modified

    def advanced(self, seen: Iterable[LandedObject]) -> ArrivalCursor:
        cursor = self
        for obj in seen:
            if cursor.last_modified is None or obj.last_modified > cursor.last_modified:
                cursor = ArrivalCursor(obj.last_modified, frozenset({obj.key}))
            elif obj.last_modified == cursor.last_modified:
                cursor = ArrivalCursor(cursor.last_modified, cursor.keys_at_last_modified | {obj.key})
        return cursor


def new_arrivals(objects: Iterable[LandedObject], cursor: ArrivalCursor, limit: int) -> list[LandedObject]:
    """The oldest ``limit`` objects the cursor has not seen, in last-modified order."""
    fresh = sorted((o for o in objects if cursor.is_new(o)), key=lambda o: (o.last_modified, o.key))
    return fresh[:limit]
