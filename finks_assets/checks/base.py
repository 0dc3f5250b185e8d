"""What every bar check returns, and the one DuckDB helper they share.

A check is a pure function over a silver frame: set-based SQL in DuckDB, no per-row Python.
Its :class:`CheckOutcome` names the offending tickers, rows and trading dates, so the UI,
the validation report and the per-partition gate all read the same result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb
import pandas as pd
import pyarrow as pa

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


def _scannable(frame: pd.DataFrame) -> pd.DataFrame | pa.Table:
    """The frame as Arrow when it converts (DuckDB scans Arrow without copying, while a pandas
    string column is turned into Python objects on every scan: 2x the cost of the checks)."""
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):
        return frame  # e.g. an object column of mixed types: DuckDB's pandas scan copes


def query(sql: str, params: list | None = None, **tables: pd.DataFrame) -> pd.DataFrame:
    """Run ``sql`` over the given frames (registered as views) in a private DuckDB."""
    con = duckdb.connect(config={"threads": 2})
    try:
        con.execute("set TimeZone = 'UTC'")
        for name, frame in tables.items():
            con.register(name, _scannable(frame))
        return con.execute(sql, params or []).df()
    finally:
        con.close()


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
