"""The ``live`` table: running VWAP, cumulative volume and last price per ticker, in SQLite.

Why SQLite and not the gold warehouse: gold's DuckDB file has one writer (the dbt pool); a
consumer writing it all day would fight every gold build. A separate small file, in WAL mode,
lets one writer (the consumer) commit while API readers read without blocking.

Exactly-once state: an object's bars, the live rows it changes, the alert states it flips, the
alerts it fires (an outbox) and the object's own "applied" row commit in ONE transaction. A
crash before the commit re-applies the whole object on restart; after it, the object is
skipped. A bar seen twice (same ticker and ts) is ignored by its primary key.

VWAP is ``sum(close * volume) / sum(volume)`` over the day's bars, the formula of gold's
``int_bars_1m__daily_rollup``; a ticker's row starts over when its first bar of a newer
trading date arrives.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from finks_assets.lib.tickers import validate_ticker

if TYPE_CHECKING:
    import pandas as pd

_SCHEMA = """
create table if not exists applied (
    key text primary key, rows integer not null, produced_at real, applied_at real not null);
create table if not exists bars (
    ticker text not null, ts integer not null, trade_date text not null,
    close real not null, volume integer not null, primary key (ticker, ts));
create table if not exists live (
    ticker text primary key, trade_date text not null, last_ts integer not null,
    last_price real not null, cum_volume integer not null, notional real not null,
    vwap real, bars integer not null, updated_at real not null);
create table if not exists alert_state (
    rule text not null, ticker text not null, state text not null,
    primary key (rule, ticker));
create table if not exists alert_outbox (
    id integer primary key autoincrement, rule text not null, ticker text not null,
    bar_ts integer not null, text text not null, created_at real not null,
    sent_at real);
"""
LIVE_COLUMNS = ("ticker", "trade_date", "last_ts", "last_price", "cum_volume", "vwap", "bars",
                "updated_at")
_READ_LIVE = ("select ticker, trade_date, last_ts, last_price, cum_volume, vwap, bars, updated_at "
              "from live where ticker = ?")


def live_db_path(data_dir: Path) -> Path:
    """``$FINKS_DATA_DIR/stream/live.sqlite``: beside the warehouse, outside the lake."""
    return Path(data_dir) / "stream" / "live.sqlite"


def checkpoint(path: Path) -> dict[str, object] | None:
    """What Dagster's observation reports: objects applied, newest bar, last commit."""
    if not path.exists():
        return None
    con = connect(path, read_only=True)
    try:
        objects, last_applied = con.execute(
            "select count(*), max(applied_at) from applied").fetchone()
        tickers, newest_bar, bars = con.execute(
            "select count(*), max(last_ts), sum(bars) from live").fetchone()
        unsent = con.execute("select count(*) from alert_outbox where sent_at is null").fetchone()
    finally:
        con.close()
    return {"objects_applied": objects, "last_applied_at": last_applied, "tickers": tickers,
            "bars": bars or 0, "newest_bar_ts": _iso(newest_bar) if newest_bar else None,
            "alerts_unsent": unsent[0]}


@dataclass
class LiveRow:
    """One ticker's running state (``notional`` = sum of close * volume)."""

    ticker: str
    trade_date: str
    last_ts: int  # epoch microseconds, bar start (UTC)
    last_price: float
    cum_volume: int
    notional: float
    bars: int

    @property
    def vwap(self) -> float | None:
        return self.notional / self.cum_volume if self.cum_volume else None


def connect(path: Path, read_only: bool = False) -> sqlite3.Connection:
    """Open the live store; the writer creates it (WAL mode, so readers never block it)."""
    if read_only:
        con = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=5.0,
                              check_same_thread=False)
        return con
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    con.execute("pragma journal_mode=wal")
    con.execute("pragma synchronous=normal")  # WAL + normal: durable at checkpoints, fast
    con.executescript(_SCHEMA)
    return con


@contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    con.execute("begin immediate")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def applied_keys(con: sqlite3.Connection) -> set[str]:
    return {row[0] for row in con.execute("select key from applied")}


def load_live(con: sqlite3.Connection) -> dict[str, LiveRow]:
    rows = con.execute("select ticker, trade_date, last_ts, last_price, cum_volume, notional, "
                       "bars from live").fetchall()
    return {r[0]: LiveRow(*r) for r in rows}


def insert_bars(con: sqlite3.Connection, bars: pd.DataFrame) -> pd.DataFrame:
    """Insert canonical bars (ticker, ts, close, volume, trade_date); return the new ones,
    in (ts, ticker) order. A (ticker, ts) already stored is a redelivery and is skipped."""
    import pandas as pd
    fresh = []
    for row in bars.sort_values(["ts", "ticker"]).itertuples(index=False):
        cur = con.execute(
            "insert or ignore into bars (ticker, ts, trade_date, close, volume) "
            "values (?, ?, ?, ?, ?)",
            (row.ticker, int(row.ts), row.trade_date, float(row.close), int(row.volume)))
        if cur.rowcount:
            fresh.append(row)
    return pd.DataFrame(fresh, columns=bars.columns)


def save_live(con: sqlite3.Connection, rows: Iterable[LiveRow], now: float) -> None:
    con.executemany(
        "insert or replace into live (ticker, trade_date, last_ts, last_price, cum_volume, "
        "notional, vwap, bars, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(r.ticker, r.trade_date, r.last_ts, r.last_price, r.cum_volume, r.notional, r.vwap,
          r.bars, now) for r in rows])


def mark_applied(con: sqlite3.Connection, key: str, rows: int, produced_at: float | None,
                 applied_at: float) -> None:
    con.execute("insert into applied (key, rows, produced_at, applied_at) values (?, ?, ?, ?)",
                (key, rows, produced_at, applied_at))


def read_live(path: Path, ticker: str) -> dict[str, object] | None:
    """One ticker's live row for the API (read-only; None if absent or no store yet)."""
    ticker = validate_ticker(ticker)
    if not path.exists():
        return None
    con = connect(path, read_only=True)
    try:
        row = con.execute(_READ_LIVE, (ticker,)).fetchone()
    finally:
        con.close()
    if row is None:
        return None
    record = dict(zip(LIVE_COLUMNS, row, strict=True))
    record["last_bar_ts"] = _iso(record.pop("last_ts"))
    record["updated_at"] = dt.datetime.fromtimestamp(record["updated_at"], dt.UTC).isoformat()
    return record


def latencies(con: sqlite3.Connection) -> list[float]:
    """Seconds from each object's producer flush to its commit in the live table."""
    return [r[0] for r in con.execute(
        "select applied_at - produced_at from applied where produced_at is not null")]


def _iso(epoch_us: int) -> str:
    import pandas as pd
    return pd.Timestamp(epoch_us, unit="us", tz="UTC").isoformat()


def now() -> float:
    return time.time()
