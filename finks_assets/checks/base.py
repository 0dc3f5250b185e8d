"""What every bar check returns, and the DuckDB connection they share.

A check is a pure function over a silver frame (or a :class:`CheckDB` holding one): set-based
SQL in DuckDB and vectorised NumPy, no per-row Python. Its :class:`CheckOutcome` names the
offending tickers, rows and trading dates, so the UI, the validation report and the
per-partition gate all read the same result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from finks_assets.checks.ordering import BarOrder

SAMPLE_ROWS = 20
MAX_LISTED_TICKERS = 50


@dataclass
class CheckOutcome:
    """The result of one check over one run's window (one or many trading days)."""

    passed: bool
    failing_rows: int
    metadata: dict[str, object] = field(default_factory=dict)
    offenders: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def failing_dates(self) -> set[dt.date]:
        """Trading days with at least one offending row (drives the per-partition gate)."""
        if self.offenders.empty or "trade_date" not in self.offenders:
            return set()
        return {_as_date(d) for d in self.offenders["trade_date"].unique()}

    def offending_tickers(self) -> list[str]:
        if self.offenders.empty:
            return []
        return sorted(self.offenders["ticker"].astype(str).unique().tolist())


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()


BAR_COLUMNS = ["ticker", "ts", "trade_date", "open", "high", "low", "close", "volume"]


def _scannable(frame: pd.DataFrame) -> pd.DataFrame | pa.Table:
    """The frame as Arrow when it converts (DuckDB scans Arrow without copying, while a pandas
    string column is turned into Python objects on every scan: 2x the cost of the checks)."""
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):
        return frame  # e.g. an object column of mixed types: DuckDB's pandas scan copes


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"threads": 2})
    con.execute("set TimeZone = 'UTC'")
    return con


class CheckDB:
    """The bars of one run, converted to Arrow once and held in one DuckDB connection.

    Every check of a run used to convert the frame and open a connection of its own; passing
    one CheckDB to all of them (see ``run_bar_checks``) does both once. Only the columns the
    checks read are converted. Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, bars: pd.DataFrame) -> None:
        columns = bars[[c for c in BAR_COLUMNS if c in bars.columns]]
        self.con = _connect()
        scannable = _scannable(columns)
        if isinstance(scannable, pd.DataFrame):
            # Mixed-type object columns: let DuckDB's pandas scan type them, as it always did.
            self.con.register("bars_frame", scannable)
            scannable = self.con.execute("select * from bars_frame").fetch_arrow_table()
            self.con.unregister("bars_frame")
        self.table: pa.Table = scannable
        self._materialized: set[str] = set()
        self.con.register("bars", self.table)

    @cached_property
    def order(self) -> BarOrder:
        return BarOrder(self.table)

    def query(self, sql: str, params: list | None = None, **tables: pd.DataFrame | pa.Table) -> pd.DataFrame:
        """Run ``sql`` over ``bars`` and the given extra tables (registered for this query)."""
        for name, frame in tables.items():
            self.con.register(name, frame if isinstance(frame, pa.Table) else _scannable(frame))
        try:
            return self.con.execute(sql, params or []).df()
        finally:
            for name in tables:
                self.con.unregister(name)

    def materialize(self, name: str, sql: str) -> None:
        """Create temp table ``name`` from ``sql`` once per connection (shared by checks)."""
        if name not in self._materialized:
            self.con.execute(f"create temp table {name} as {sql}")  # name: a module constant
            self._materialized.add(name)

    def rows(self, indices: np.ndarray, columns: list[str], **extra: pa.Array) -> pa.Table:
        """The bars at ``indices`` (storage row numbers), with computed columns appended."""
        picked = self.table.select(columns).take(pa.array(indices, type=pa.int64()))
        for name, values in extra.items():
            picked = picked.append_column(name, values)
        return picked

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> CheckDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def bars_db(bars: pd.DataFrame | CheckDB) -> Iterator[CheckDB]:
    """``bars`` as a CheckDB: the caller's shared one, or a private one closed afterwards."""
    if isinstance(bars, CheckDB):
        yield bars
        return
    with CheckDB(bars) as db:
        yield db


def outcome(
    offenders: pd.DataFrame, columns: list[str], failing_rows: int | None = None, **extra: object
) -> CheckOutcome:
    """A CheckOutcome whose metadata lists the offending tickers and a sample of the rows."""
    sample = offenders[columns].head(SAMPLE_ROWS).astype(str).to_dict(orient="records")
    count = len(offenders) if failing_rows is None else failing_rows
    result = CheckOutcome(passed=count == 0, failing_rows=count, offenders=offenders)
    result.metadata = {
        "failing_rows": count,
        "failing_tickers": result.offending_tickers()[:MAX_LISTED_TICKERS],
        "failing_trade_dates": sorted(d.isoformat() for d in result.failing_dates),
        "sample": sample,
        **extra,
    }
    return result
