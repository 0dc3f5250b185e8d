"""Read a run's bronze 1-minute payloads (Finks' own fetches and landed files) for silver.

Fetches that a strictly newer, complete fetch of the same day replaces row for row are left
unread (see :mod:`superseded_fetches`); their rows are still counted.

Landed files (``landing/source=…/dataset=bars_1m/trade_date=…/``) come from outside Finks, so
each must pass the payload contract before its rows are read (:func:`landed_problem`). One bad
file is *rejected* (kept where it is, named with its path and reason in the log, the result and
the report) and every other file of the day is read as usual. Their ``_fetched_at`` is capped
at the file's arrival time (its last-modified time in the listing): a landed file can claim an
older fetch time, never a newer one than when it reached us, so it cannot outrank a later
fetch. The row rules (ticker pattern, bars of another day) apply in silver to every payload
before de-duplication (:mod:`silver_bars`).

Finks' own fetches were written by the adapter that maps them; one that fails to map is a bug
or a corruption, not a vendor's fault, so it stops the run with the file named instead of
quietly dropping a day that silver already holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from finks_assets.lib import market_calendar
from finks_assets.lib.lake.landing import landing_partition_dir
from finks_assets.lib.lake.layout import audit_partition_dir, bronze_partition_dir
from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.logging import get_logger
from finks_assets.lib.sources.base import BarSource
from finks_assets.lib.transforms.bronze_audit import BARS_DATASET
from finks_assets.lib.transforms.silver_bars import (
    REJECTED_FILE_COLUMNS,
    PayloadError,
    canonical_from_bronze,
    empty_rejected_files,
)
from finks_assets.lib.transforms.superseded_fetches import SkippedFetches, superseded_fetches

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

log = get_logger("bronze_reader")
LINEAGE_TICKER, LINEAGE_FETCHED_AT = "_ticker", "_fetched_at"
_DETAIL_CHARS = 300
# Text that reads as a date and time; it must end in a zone ("Z", "+00:00", "-0500").
_TEXT_TIMESTAMP = r"^\s*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}"
_TEXT_ZONE = r"(Z|[+-]\d{2}(:?\d{2})?)\s*$"


class BronzeFileError(RuntimeError):
    """One of Finks' own bronze fetches cannot be read as bars (the message names the file)."""


@dataclass(frozen=True)
class BronzeRead:
    """What silver reads for a run: canonical bars (with payload order), the rows of fetches
    left unread because newer ones replace them, and the payload files refused whole."""

    bars: pd.DataFrame
    unread_rows: int
    rejected_files: pd.DataFrame = field(default_factory=empty_rejected_files)


@dataclass
class _Payload:
    path: str
    day: dt.date
    table: pa.Table
    landed: bool


def read_bronze(store: LakeStore, source: BarSource, days: list[dt.date]) -> BronzeRead:
    """All bronze payloads of ``source`` for ``days`` as canonical bars, landed files checked.

    Files are read as Arrow and mapped in one pass per run of equal schemas (see
    ``canonical_from_bronze``), not converted to pandas one by one. Payload order (``payload``,
    the tie-break between copies of one fetch time) follows the days, and within a day
    Finks' fetches by name (their names start with the fetch time), then landed files by name.
    """
    import pandas as pd
    payloads: list[_Payload] = []
    rejected: list[dict[str, object]] = []
    skipped_rows = 0
    for day in days:
        fetches = store.list_parquet(bronze_partition_dir(source.name, BARS_DATASET, day))
        skipped = SkippedFetches.none() if len(fetches) < 2 else superseded_fetches(
            read_day_audit(store, source.name, day), market_calendar.session(day),
            {_stem(path) for path in fetches},
        )
        skipped_rows += skipped.rows
        for path in fetches:
            if _stem(path) not in skipped.names:
                payloads.append(_Payload(path, day, store.read_parquet(path), landed=False))
        # Payloads a vendor or person dropped under landing/ (the S3 sensor's trigger).
        landed = store.list_parquet(landing_partition_dir(source.name, BARS_DATASET, day))
        for path, arrived in zip(landed, _arrival_times(store, landed), strict=True):
            try:
                table = _read_landed(store, path)
                payloads.append(_Payload(path, day, _cap_fetched_at(table, arrived), landed=True))
            except PayloadError as exc:
                rejected.append(_reject(path, day, exc))
    payloads = [p for p in payloads if p.table.num_rows]
    bars = _map(source, payloads, lambda p, exc: rejected.append(_reject(p.path, p.day, exc)))
    frame = pd.DataFrame(rejected, columns=REJECTED_FILE_COLUMNS).sort_values(
        ["trade_date", "path"], ignore_index=True) if rejected else empty_rejected_files()
    return BronzeRead(bars, skipped_rows, frame)


def _map(
    source: BarSource, payloads: list[_Payload], reject: Callable[[_Payload, PayloadError], None]
) -> pd.DataFrame:
    """Map every payload in one batch; if that fails, map file by file to find the culprits,
    reject the landed ones, raise for Finks' own, and map the rest in one batch again."""
    try:
        return canonical_from_bronze(source, [p.table for p in payloads], [p.day for p in payloads])
    except Exception:  # noqa: BLE001 - which file failed, and why, is found below
        pass
    good = []
    for payload in payloads:
        try:
            canonical_from_bronze(source, [payload.table], [payload.day])
        except Exception as exc:  # noqa: BLE001 - an adapter may raise anything on bad input
            error = _as_payload_error(exc)
            if not payload.landed:
                raise BronzeFileError(
                    f"bronze fetch {payload.path} cannot be read as bars: {error}") from exc
            reject(payload, error)
        else:
            good.append(payload)
    return canonical_from_bronze(source, [p.table for p in good], [p.day for p in good])


def _read_landed(store: LakeStore, path: str) -> pa.Table:
    import pyarrow as pa
    try:
        table = store.read_parquet(path)
    except (pa.ArrowException, OSError) as exc:
        raise PayloadError("unreadable_file", f"not a readable Parquet file ({exc})") from exc
    if problem := landed_problem(table):
        raise problem
    return table


def landed_problem(table: pa.Table) -> PayloadError | None:
    """Why a landed payload breaks the contract before any row is mapped, or None.

    * ``_ticker`` (the symbol of each row) must be there; ``_fetched_at`` may be missing (the
      arrival time stands in);
    * no timestamp may be time-zone-naive: a typed timestamp column needs a zone, and a text
      column that reads as timestamps needs an offset on every value. A naive value would be
      taken as UTC, which for New York bars is hours off; nobody can tell which zone was meant.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    if LINEAGE_TICKER not in table.column_names:
        return PayloadError("missing_columns", f"lineage column {LINEAGE_TICKER!r} missing")
    for name, column in zip(table.column_names, table.columns, strict=True):
        kind = column.type
        if pa.types.is_timestamp(kind) and kind.tz is None:
            return PayloadError(
                "naive_timestamp", f"column {name!r} is a timestamp without a time zone")
        if name != LINEAGE_TICKER and (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            values = pc.drop_null(column)
            if len(values) and pc.all(pc.match_substring_regex(values, _TEXT_TIMESTAMP)).as_py():
                naive = pc.sum(pc.invert(pc.match_substring_regex(values, _TEXT_ZONE))).as_py()
                if naive:
                    return PayloadError(
                        "naive_timestamp",
                        f"column {name!r}: {naive} timestamp(s) written without a UTC offset")
    return None


def _cap_fetched_at(table: pa.Table, arrived: pd.Timestamp) -> pa.Table:
    """``_fetched_at`` := min(claimed, arrival), the arrival time where missing or unreadable."""
    import pandas as pd
    import pyarrow as pa
    names = table.column_names
    if LINEAGE_FETCHED_AT in names:
        claimed = pd.to_datetime(table.column(LINEAGE_FETCHED_AT).to_pandas(), utc=True,
                                 errors="coerce")
        capped = claimed.where(claimed <= arrived, arrived)
    else:
        capped = pd.Series(arrived, index=range(table.num_rows))
    column = pa.array(capped.dt.as_unit("ns"), type=pa.timestamp("ns", tz="UTC"))
    if LINEAGE_FETCHED_AT in names:
        return table.set_column(names.index(LINEAGE_FETCHED_AT), LINEAGE_FETCHED_AT, column)
    return table.append_column(LINEAGE_FETCHED_AT, column)


def _arrival_times(store: LakeStore, paths: list[str]) -> list[pd.Timestamp]:
    """When each file reached the lake: its last-modified time (S3 LastModified, or the local
    file's mtime), or now if the filesystem does not say."""
    import pandas as pd
    now, times = pd.Timestamp.now(tz="UTC"), []
    for info in store.filesystem.get_file_info(paths) if paths else []:
        mtime = pd.Timestamp(info.mtime) if info.mtime is not None else now
        times.append(mtime.tz_convert("UTC") if mtime.tzinfo else mtime.tz_localize("UTC"))
    return times


def _as_payload_error(exc: Exception) -> PayloadError:
    if isinstance(exc, PayloadError):
        return exc
    if isinstance(exc, KeyError):
        return PayloadError("missing_columns", f"column {exc} missing")
    return PayloadError("wrong_types", f"{type(exc).__name__}: {exc}"[:_DETAIL_CHARS])


def _reject(path: str, day: dt.date, exc: PayloadError) -> dict[str, object]:
    log.warning("rejected landed file %s (trade_date %s): %s: %s", path, day, exc.reason,
                exc.detail)
    return {"trade_date": day, "path": path, "reason": exc.reason,
            "detail": exc.detail[:_DETAIL_CHARS]}


def read_day_audit(store: LakeStore, source: str, day: dt.date) -> pd.DataFrame:
    """The day's ingestion audit records, each tagged with its fetch (the bronze file stem)."""
    import pandas as pd
    frames = [
        store.read_parquet(path).to_pandas().assign(fetch=_stem(path))
        for path in store.list_parquet(audit_partition_dir(source, day))
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _stem(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(".parquet")
