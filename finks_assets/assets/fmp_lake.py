"""Where FMP data lives in the lake, and the one writer of raw JSON bytes.

Layout (hive-style, so DuckDB/Athena prune by path; tickers enter paths only after
``validate_ticker``):

* ``bronze/source=fmp/dataset=historical_price_eod/window=<from>_<to>/ticker=<T>/<fetch>.json``:
  one EOD request covers the run's whole trading-date window (one call per ticker per run, not
  per ticker per day, which a 300/min plan could not afford for a backfill), so its bytes are
  kept once, under the window they answer; silver reads every window overlapping its days.
* ``bronze/source=fmp/dataset=<profile|income_statement|...>/ticker=<T>/<fetch>.json``
* ``silver/fmp_<dataset>/ticker=<T>/part-0.parquet`` (per-ticker datasets, replaced whole).

The JSON writer mirrors ``LakeStore.write_parquet``: temp name + rename locally, one PUT on S3.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import pandas as pd
import pyarrow.fs as pafs

from finks_assets.lake.layout import fetch_id, trade_date_key
from finks_assets.lake.store import LakeStore
from finks_assets.tickers import validate_ticker

SOURCE = "fmp"
EOD_DATASET = "historical_price_eod"
_BRONZE = f"bronze/source={SOURCE}/dataset="


def eod_bronze_dir(start: dt.date, end: dt.date, ticker: str) -> str:
    return (f"{_BRONZE}{EOD_DATASET}/window={trade_date_key(start)}_{trade_date_key(end)}"
            f"/ticker={validate_ticker(ticker)}")


def ticker_bronze_dir(dataset: str, ticker: str) -> str:
    return f"{_BRONZE}{dataset}/ticker={validate_ticker(ticker)}"


def ticker_silver_dir(dataset: str, ticker: str) -> str:
    return f"silver/fmp_{dataset}/ticker={validate_ticker(ticker)}"


def write_json(store: LakeStore, relative_dir: str, fetched_at: pd.Timestamp, run_id: str,
               raw: bytes) -> str:
    """Write ``raw`` unchanged as ``<relative_dir>/<fetch id>.json``, atomically."""
    final = store.path(f"{relative_dir}/{fetch_id(fetched_at, run_id)}.json")
    if not store.is_local:
        with store.filesystem.open_output_stream(final) as out:
            out.write(raw)
        return final
    parent = final.rsplit("/", 1)[0]
    store.filesystem.create_dir(parent, recursive=True)
    tmp = f"{parent}/.tmp-{uuid.uuid4().hex}.json"
    try:
        with store.filesystem.open_output_stream(tmp) as out:
            out.write(raw)
        store.filesystem.move(tmp, final)
    except BaseException:
        try:
            store.filesystem.delete_file(tmp)
        except OSError:
            pass
        raise
    return final


@dataclass(frozen=True)
class BronzeJson:
    path: str
    ticker: str
    fetched_at: pd.Timestamp
    raw: bytes


def _fetched_at(name: str) -> pd.Timestamp:
    stamp = name.split("_", 1)[0]
    return pd.to_datetime(stamp, format="%Y%m%dT%H%M%S%fZ", utc=True)


def _json_files(store: LakeStore, relative_dir: str) -> list[pafs.FileInfo]:
    selector = pafs.FileSelector(store.path(relative_dir), allow_not_found=True, recursive=True)
    return [
        info for info in store.filesystem.get_file_info(selector)
        if info.type == pafs.FileType.File and info.base_name.endswith(".json")
        and not info.base_name.startswith(".tmp-")
    ]


def read_json_files(store: LakeStore, relative_dir: str) -> list[BronzeJson]:
    """Every finished JSON payload under ``relative_dir``, oldest fetch first."""
    found = []
    for info in _json_files(store, relative_dir):
        ticker = next(p.split("=", 1)[1] for p in info.path.split("/") if p.startswith("ticker="))
        with store.filesystem.open_input_stream(info.path) as stream:
            raw = stream.read()
        found.append(BronzeJson(info.path, ticker, _fetched_at(info.base_name), raw))
    return sorted(found, key=lambda f: (f.fetched_at, f.path))


def eod_windows_overlapping(store: LakeStore, days: list[dt.date]) -> list[str]:
    """The bronze EOD window directories that cover at least one of ``days``."""
    selector = pafs.FileSelector(store.path(f"{_BRONZE}{EOD_DATASET}"), allow_not_found=True)
    first, last = min(days), max(days)
    windows = []
    for info in store.filesystem.get_file_info(selector):
        if info.type != pafs.FileType.Directory or not info.base_name.startswith("window="):
            continue
        start, end = (dt.date.fromisoformat(d) for d in info.base_name[7:].split("_"))
        if start <= last and end >= first:
            windows.append(f"{_BRONZE}{EOD_DATASET}/{info.base_name}")
    return sorted(windows)
