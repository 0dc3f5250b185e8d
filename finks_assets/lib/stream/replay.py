"""Replay one session's 1-minute bars as micro-batches, at a chosen speed.

A bar labelled ``ts`` (its start) is complete at ``ts + 1 min``; a flush window of
``flush_minutes`` bar-minutes is therefore written once its last bar is complete, at
``started + (window end - session open) / speed`` on the wall clock. ``speed=60`` plays a
390-minute session in 6.5 minutes; ``speed=inf`` writes every window at once (tests).

Each object holds the bronze payload shape -- the vendor's raw columns as received, plus the
lineage columns ``_ticker`` and ``_fetched_at`` -- so the end-of-day compaction can hand the
day's micro-batches to the same bronze -> silver code as a batch fetch. ``_fetched_at`` is the
wall time of the flush: when the "stream" delivered the bar, which is also where the consumer
starts its landing -> live latency clock.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from finks_assets.lib import market_calendar
from finks_assets.lib.lake.writer import LakeWriter
from finks_assets.lib.sources.base import BarSource
from finks_assets.lib.stream.layout import micro_batch_path
from finks_assets.lib.tickers import validate_tickers

if TYPE_CHECKING:
    import pandas as pd

LINEAGE_TICKER, LINEAGE_FETCHED_AT = "_ticker", "_fetched_at"


@dataclass(frozen=True)
class MicroBatch:
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    group: int
    raw: pd.DataFrame  # the vendor's columns plus _ticker, without _fetched_at yet


@dataclass(frozen=True)
class ReplayResult:
    objects: int
    bars: int
    seconds: float
    paths: list[str]


def session_payload(source: BarSource, tickers: Sequence[str], day: dt.date) -> pd.DataFrame:
    """The day's raw bars of ``tickers`` from ``source`` with ``_ticker``: what a recorded
    session file holds too (see :func:`recorded_payload`)."""
    import pandas as pd
    fetch = source.fetch_bars_1m(validate_tickers(tickers), [day])
    frames = [raw.assign(**{LINEAGE_TICKER: ticker}) for ticker, raw in fetch.frames.items()
              if len(raw)]
    if not frames:
        raise ValueError(f"{source.name} has no bars for {day} ({len(tickers)} tickers)")
    return pd.concat(frames, ignore_index=True)


def recorded_payload(path: str) -> pd.DataFrame:
    """A recorded session: a Parquet file in the bronze payload shape (raw columns, ``_ticker``).
    A recorded ``_fetched_at`` is dropped: the replay delivers the bars now."""
    import pandas as pd
    frame = pd.read_parquet(path)
    if LINEAGE_TICKER not in frame:
        raise ValueError(f"recorded session {path} lacks the {LINEAGE_TICKER!r} column")
    return frame.drop(columns=[LINEAGE_FETCHED_AT], errors="ignore")


def plan_micro_batches(
    source: BarSource, raw: pd.DataFrame, day: dt.date, flush_minutes: int = 1,
    group_size: int = 25,
) -> list[MicroBatch]:
    """Cut the day's raw bars into (flush window, ticker group) micro-batches, in time order.

    Tickers are grouped by sorted position, ``group_size`` per group (a Firehose stream or a
    Kafka partition per group of symbols). Bar times come from the source's own mapping
    (``to_canonical``), so any vendor's raw shape replays.
    """
    import pandas as pd
    if flush_minutes < 1 or group_size < 1:
        raise ValueError("flush_minutes and group_size must be at least 1")
    session = market_calendar.session(day)
    if session is None:
        raise ValueError(f"{day} is not an XNYS session")
    tickers = sorted(set(validate_tickers(raw[LINEAGE_TICKER].astype(str).unique())))
    group_of = {t: i // group_size for i, t in enumerate(tickers)}
    ts = pd.to_datetime(source.to_canonical(raw)["ts"], utc=True)
    window = ((ts - session.open_utc) // pd.Timedelta(minutes=flush_minutes)).astype("int64")
    frame = raw.assign(_window=window.to_numpy(), _group=raw[LINEAGE_TICKER].map(group_of),
                       _ts=ts.to_numpy())
    batches = []
    width = pd.Timedelta(minutes=flush_minutes)
    for (w, g), part in frame.sort_values(["_window", "_group", LINEAGE_TICKER, "_ts"]).groupby(
            ["_window", "_group"], sort=True):
        start = session.open_utc + w * width
        batches.append(MicroBatch(start, start + width, int(g),
                                  part.drop(columns=["_window", "_group", "_ts"])
                                  .reset_index(drop=True)))
    return batches


def replay(
    writer: LakeWriter, source_name: str, day: dt.date, batches: Sequence[MicroBatch],
    speed: float = 60.0, clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[MicroBatch, str], None] | None = None,
) -> ReplayResult:
    """Write ``batches`` as landing objects, each when its window closes at ``speed``."""
    import pandas as pd
    import pyarrow as pa
    if speed <= 0:
        raise ValueError("speed must be positive")
    session = market_calendar.session(day)
    if session is None:
        raise ValueError(f"{day} is not an XNYS session")
    started, paths, bars = clock(), [], 0
    for batch in batches:
        due = started + (batch.window_end - session.open_utc).total_seconds() / speed
        if not math.isinf(speed) and (wait := due - clock()) > 0:
            sleep(wait)
        table = pa.Table.from_pandas(
            batch.raw.assign(**{LINEAGE_FETCHED_AT: pd.Timestamp.now(tz="UTC")}),
            preserve_index=False)
        path = writer.write_parquet(micro_batch_path(source_name, day, batch.window_start,
                                                     batch.group), table)
        paths.append(path)
        bars += table.num_rows
        if progress is not None:
            progress(batch, path)
    return ReplayResult(len(paths), bars, clock() - started, paths)

