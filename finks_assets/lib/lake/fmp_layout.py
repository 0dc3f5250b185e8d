"""Where FMP data lives in the lake, and how its raw JSON payloads are read back.

Layout (hive-style, so DuckDB/Athena prune by path; tickers enter paths only after
``validate_ticker``):

* ``bronze/source=fmp/dataset=historical_price_eod/window=<from>_<to>/ticker=<T>/<fetch>.json``:
  one EOD request covers the run's whole trading-date window (one call per ticker per run, not
  per ticker per day, which a 300/min plan could not afford for a backfill), so its bytes are
  kept once, under the window they answer; silver reads every window overlapping its days.
* ``bronze/source=fmp/dataset=<profile|income_statement|...>/ticker=<T>/<fetch>.json``
* ``silver/fmp_bars_1d/trade_date=<D>/part-0.parquet`` (the EOD bars, by trading day) and
  ``silver/fmp_<dataset>/ticker=<T>/part-0.parquet`` (per-ticker datasets, replaced whole).

Every FMP asset key is ``[layer, fmp_<dataset>]``; the JSON is written by the lake writer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from finks_assets.lib.lake.layout import fetch_id, trade_date_key
from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.tickers import validate_ticker

if TYPE_CHECKING:
    import pandas as pd

SOURCE = "fmp"
EOD_DATASET = "historical_price_eod"
BARS_1D = "fmp_bars_1d"  # the silver dataset of EOD bars
_BRONZE = f"bronze/source={SOURCE}/dataset="


def eod_bronze_dir(start: dt.date, end: dt.date, ticker: str) -> str:
    return (f"{_BRONZE}{EOD_DATASET}/window={trade_date_key(start)}_{trade_date_key(end)}"
            f"/ticker={validate_ticker(ticker)}")


def ticker_bronze_dir(dataset: str, ticker: str) -> str:
    return f"{_BRONZE}{dataset}/ticker={validate_ticker(ticker)}"


def json_name(relative_dir: str, fetched_at: pd.Timestamp, run_id: str) -> str:
    """``<relative_dir>/<fetch id>.json``: one file per fetch, sortable by fetch time."""
    return f"{relative_dir}/{fetch_id(fetched_at, run_id)}.json"


@dataclass(frozen=True)
class BronzeJson:
    path: str
    ticker: str
    fetched_at: pd.Timestamp
    raw: bytes


def _fetched_at(name: str) -> pd.Timestamp:
    import pandas as pd
    stamp = name.rsplit("/", 1)[-1].split("_", 1)[0]
    return pd.to_datetime(stamp, format="%Y%m%dT%H%M%S%fZ", utc=True)


def read_json_files(store: LakeStore, relative_dir: str) -> list[BronzeJson]:
    """Every finished JSON payload under ``relative_dir``, oldest fetch first."""
    found = []
    for path in store.list_files(relative_dir, ".json", recursive=True):
        ticker = next(p.split("=", 1)[1] for p in path.split("/") if p.startswith("ticker="))
        with store.filesystem.open_input_stream(path) as stream:
            raw = stream.read()
        found.append(BronzeJson(path, ticker, _fetched_at(path), raw))
    return sorted(found, key=lambda f: (f.fetched_at, f.path))


def eod_windows_overlapping(store: LakeStore, days: list[dt.date]) -> list[str]:
    """The bronze EOD window directories that cover at least one of ``days``."""
    import pyarrow.fs as pafs
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
