"""The dbt project ``finks_dbt`` (gold layer) built with dbt-duckdb on a tiny hand-made silver lake.

Every trading day below has three 1-minute bars per ticker, built from the day's close C
(P = C - 1), written to the file out of time order:

    14:30  open P      high P+1     low P-1      close P+0.5   volume 100
    14:31  open P+0.5  high P+2     low P        close P+1.5   volume 300
    14:32  open P+1.5  high P+1.75  low P+0.75   close P+1     volume 100

so the daily bar is open C-1, high C+1, low C-2, close C, volume 500, bar_count 3 and
vwap = ((P+0.5)*100 + (P+1.5)*300 + (P+1)*100) / 500 = P + 1.2 = C + 0.2.
Exceptions: AAPL has a fourth, zero-volume bar at 14:33 on DAY1 (no effect on vwap/close/high/
low); IWM trades only on DAY1, one zero-volume bar (vwap null); JNJ has no bars on DAY3, so the
`balanced` portfolio has no row that day. DAY_OFF (Thanksgiving) is a zero-row partition.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

dbt_main = pytest.importorskip("dbt.cli.main")

PROJECT_DIR = Path(__file__).resolve().parents[2] / "finks_dbt"
# dbt runs in this process (dbtRunner) with one thread. dbt compiles nodes in its worker threads
# and renders unit-test fixtures with ast.literal_eval; on CPython 3.11 two threads building AST
# objects at once can fail with "SystemError: AST constructor recursion depth mismatch"
# (python/cpython#106905; seen once in CI as a unit test's "Compilation Error"). Dagster's gold
# step runs no unit tests (DBT_BUILD_ARGS), so only these in-process builds need it.
DBT_THREADS = "1"

DAY1, DAY2, DAY_OFF, DAY3 = "2025-11-25", "2025-11-26", "2025-11-27", "2025-11-28"
TRADING_DAYS = (DAY1, DAY2, DAY3)

# Daily closes per ticker on DAY1, DAY2, DAY3 (None: no bars that day).
CLOSES: dict[str, tuple[float | None, float | None, float | None]] = {
    "AAPL": (100.0, 110.0, 99.0),
    "MSFT": (200.0, 210.0, 205.0),
    "NVDA": (50.0, 60.0, 57.0),
    "GOOGL": (150.0, 147.0, 150.0),
    "AMZN": (120.0, 126.0, 120.0),
    "SPY": (400.0, 404.0, 402.0),
    "JPM": (250.0, 245.0, 250.0),
    "XOM": (80.0, 82.0, 81.0),
    "JNJ": (160.0, 164.0, None),
}

SILVER_SCHEMA = pa.schema(
    [
        ("ticker", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("open", pa.float64()),
        ("high", pa.float64()),
        ("low", pa.float64()),
        ("close", pa.float64()),
        ("volume", pa.int64()),
        ("source", pa.string()),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
    ]
)
QUARANTINE_SCHEMA = SILVER_SCHEMA.append(pa.field("reason", pa.string()))
INGESTED_AT = dt.datetime(2025, 11, 29, 1, 0, tzinfo=dt.UTC)


# --------------------------------------------------------------------------- lake helpers


def _ts(day: str, hhmm: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hhmm}:00+00:00")


def _bar(ticker, day, hhmm, o, h, lo, c, v, **extra) -> dict:
    return {
        "ticker": ticker, "ts": _ts(day, hhmm), "open": o, "high": h, "low": lo, "close": c,
        "volume": v, "source": "synthetic", "ingested_at": INGESTED_AT, **extra,
    }


def day_bars(ticker: str, day: str, close: float) -> list[dict]:
    p = close - 1
    bars = [
        _bar(ticker, day, "14:30", p, p + 1, p - 1, p + 0.5, 100),
        _bar(ticker, day, "14:31", p + 0.5, p + 2, p, p + 1.5, 300),
        _bar(ticker, day, "14:32", p + 1.5, p + 1.75, p + 0.75, p + 1, 100),
    ]
    return bars[::-1]  # out of time order on purpose: open/close must be picked by ts


def silver_bars() -> dict[str, list[dict]]:
    by_day: dict[str, list[dict]] = {day: [] for day in (*TRADING_DAYS, DAY_OFF)}
    for ticker, closes in CLOSES.items():
        for day, close in zip(TRADING_DAYS, closes, strict=True):
            if close is not None:
                by_day[day].extend(day_bars(ticker, day, close))
    by_day[DAY1].append(_bar("AAPL", DAY1, "14:33", 100.0, 100.5, 99.5, 100.0, 0))
    by_day[DAY1].append(_bar("IWM", DAY1, "14:30", 220.0, 221.0, 219.0, 220.5, 0))
    return by_day


def quarantine_bars() -> dict[str, list[dict]]:
    return {
        DAY1: [
            _bar("AAPL", DAY1, "21:05", 100.0, 101.0, 99.0, 100.0, 10, reason="out_of_session"),
            _bar("MSFT", DAY1, "14:35", 200.0, 199.0, 198.0, 200.0, 10, reason="ohlc_invariant"),
        ],
        DAY_OFF: [],
    }


def write_partition(lake: Path, dataset: str, day: str, rows: list[dict]) -> None:
    schema = QUARANTINE_SCHEMA if dataset.endswith("quarantine") else SILVER_SCHEMA
    directory = lake / "silver" / dataset / f"trade_date={day}"
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), directory / "part-0.parquet")


def write_lake(lake: Path) -> None:
    for day, rows in silver_bars().items():
        write_partition(lake, "bars_1m", day, rows)
    for day, rows in quarantine_bars().items():
        write_partition(lake, "bars_1m_quarantine", day, rows)


# --------------------------------------------------------------------------- dbt helpers


class Warehouse:
    """A FINKS_DATA_DIR with a lake, plus dbt invocations against its warehouse."""

    def __init__(self, root: Path):
        self.root = root
        self.lake = root / "lake"
        self.lake.mkdir(parents=True, exist_ok=True)

    def dbt(self, *args: str, window: tuple[str, str] | None = None):
        dbt_vars: dict[str, str] = {"lake_root": str(self.lake)}
        if window:
            dbt_vars |= {"start_date": window[0], "end_date": window[1]}
        cli = [
            *args,
            "--project-dir", str(PROJECT_DIR),
            "--profiles-dir", str(PROJECT_DIR),
            "--target-path", str(self.root / "dbt_target"),
            "--log-path", str(self.root / "dbt_logs"),
            "--vars", json.dumps(dbt_vars),
            "--threads", DBT_THREADS,
        ]
        try:
            return dbt_main.dbtRunner().invoke(cli)
        finally:
            release_duckdb()

    def build(self, *args: str, window: tuple[str, str] | None = None) -> None:
        result = self.dbt("build", *args, window=window)
        assert result.success, f"dbt build failed: {failures(result)}"

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.root / "warehouse.duckdb"), read_only=True) as con:
            return con.execute(sql).fetchall()

    def table(self, name: str, order_by: str) -> list[tuple]:
        return self.query(f"select * from {name} order by {order_by}")  # noqa: S608 (constants)


def release_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open per process (as a subprocess would on exit).

    Otherwise this process could not open the warehouse read-only to check the results.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV
    DuckDBConnectionManager.close_all_connections()
    if env is not None:
        env.close()


def failures(result) -> list[str]:
    if result.exception is not None:
        return [repr(result.exception)]
    return [
        f"{r.node.unique_id}: {r.status} {r.message}"
        for r in (result.result or [])
        if str(r.status) not in ("success", "pass")
    ]


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Warehouse:
    monkeypatch.setenv("FINKS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FINKS_WAREHOUSE_PATH", raising=False)
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return Warehouse(tmp_path)


def daily_bar(close: float) -> tuple:
    """(open, high, low, close, volume, vwap, bar_count) of a standard three-bar day."""
    return (close - 1, close + 1, close - 2, close, 500, close + 0.2, 3)


def approx_rows(rows: list[tuple]) -> list[tuple]:
    return [tuple(pytest.approx(v, rel=1e-12, abs=1e-12) if isinstance(v, float) else v
                  for v in row) for row in rows]


GOLD_TABLES = {
    "gold.fct_daily_bars": "ticker, trade_date",
    "gold.fct_daily_features": "ticker, trade_date",
    "gold.fct_portfolio_positions": "portfolio_id, trade_date, ticker",
    "gold.daily_portfolio_summary": "portfolio_id, trade_date",
}


def snapshot(wh: Warehouse) -> dict[str, list[tuple]]:
    return {name: wh.table(name, order_by) for name, order_by in GOLD_TABLES.items()}


def keyed(rows: list[tuple], width: int = 2) -> dict[tuple, tuple]:
    return {row[:width]: row for row in rows}


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


# --------------------------------------------------------------------------- tests


def test_full_build_matches_hand_computed_gold(warehouse: Warehouse) -> None:
    write_lake(warehouse.lake)
    warehouse.build()

    # Custom schemas are used verbatim.
    schemas = {r[0] for r in warehouse.query(
        "select distinct table_schema from information_schema.tables")}
    assert {"staging", "intermediate", "gold"} <= schemas
    assert not any(s.startswith("gold_") or s.endswith("_gold") for s in schemas)

    bars = warehouse.query(
        "select ticker, trade_date, open, high, low, close, volume, vwap, bar_count,"
        " first_bar_ts, last_bar_ts, source from gold.fct_daily_bars order by ticker, trade_date"
    )
    by_key = keyed(bars)
    assert len(by_key) == len(bars)  # one row per (ticker, trade_date)
    expected_keys = {(t, d(day)) for t, closes in CLOSES.items()
                     for day, c in zip(TRADING_DAYS, closes, strict=True) if c is not None}
    assert set(by_key) == expected_keys | {("IWM", d(DAY1))}  # nothing for the holiday

    # AAPL DAY1: bars 14:30-14:32 around C=100 plus a zero-volume 14:33 bar (100/100.5/99.5/100).
    aapl1 = by_key[("AAPL", d(DAY1))]
    assert aapl1[2:9] == approx_rows([(99.0, 101.0, 98.0, 100.0, 500, 100.2, 4)])[0]
    assert aapl1[9] == _ts(DAY1, "14:30") and aapl1[10] == _ts(DAY1, "14:33")
    assert aapl1[11] == "synthetic"
    # MSFT DAY2 (C=210): open 209, high 211, low 208, close 210, vwap
    # (209.5*100 + 210.5*300 + 210*100) / 500 = 210.2.
    assert by_key[("MSFT", d(DAY2))][2:9] == approx_rows([(209.0, 211.0, 208.0, 210.0, 500, 210.2, 3)])[0]
    for key, row in by_key.items():
        if key[0] == "IWM":
            # One zero-volume bar: no vwap.
            assert row[2:9] == (220.0, 221.0, 219.0, 220.5, 0, None, 1)
        elif key != ("AAPL", d(DAY1)):
            close = CLOSES[key[0]][TRADING_DAYS.index(key[1].isoformat())]
            assert row[2:9] == approx_rows([daily_bar(close)])[0], key
            assert (row[9].minute, row[10].minute) == (30, 32)

    features = keyed(warehouse.query(
        "select ticker, trade_date, close, daily_return, return_5d, return_20d, realized_vol_20d"
        " from gold.fct_daily_features order by ticker, trade_date"))
    assert set(features) == set(by_key)
    assert features[("AAPL", d(DAY1))][3] is None
    assert features[("AAPL", d(DAY2))][3] == pytest.approx(0.10)   # 110 / 100 - 1
    assert features[("AAPL", d(DAY3))][3] == pytest.approx(-0.10)  # 99 / 110 - 1 (over the holiday)
    assert features[("NVDA", d(DAY2))][3] == pytest.approx(0.20)   # 60 / 50 - 1
    assert features[("JPM", d(DAY3))][3] == pytest.approx(250 / 245 - 1)
    assert all(row[4:] == (None, None, None) for row in features.values())  # < 5 sessions

    summary = warehouse.query(
        "select portfolio_id, trade_date, market_value, daily_pnl, daily_return, holdings_count,"
        " weights from gold.daily_portfolio_summary order by portfolio_id, trade_date")
    # core_tech: AAPL 100, MSFT 80, NVDA 50, GOOGL 60, AMZN 70
    #   DAY1 100*100 + 80*200 + 50*50 + 60*150 + 70*120 = 45900
    #   DAY2 100*110 + 80*210 + 50*60 + 60*147 + 70*126 = 48440  (P&L 2540)
    #   DAY3 100*99  + 80*205 + 50*57 + 60*150 + 70*120 = 46550  (P&L -1890)
    # balanced: SPY 200, JPM 100, XOM 150, JNJ 120, AAPL 30
    #   DAY1 200*400 + 100*250 + 150*80 + 120*160 + 30*100 = 139200
    #   DAY2 200*404 + 100*245 + 150*82 + 120*164 + 30*110 = 140580  (P&L 1380)
    #   DAY3 JNJ has no close: no row.
    assert [row[:6] for row in summary] == approx_rows([
        ("balanced", d(DAY1), 139200.0, None, None, 5),
        ("balanced", d(DAY2), 140580.0, 1380.0, 1380 / 139200, 5),
        ("core_tech", d(DAY1), 45900.0, None, None, 5),
        ("core_tech", d(DAY2), 48440.0, 2540.0, 2540 / 45900, 5),
        ("core_tech", d(DAY3), 46550.0, -1890.0, -1890 / 48440, 5),
    ])
    for row in summary:
        weights = json.loads(row[6])
        assert list(weights) == sorted(weights) and len(weights) == 5
        assert math.fsum(weights.values()) == pytest.approx(1.0, abs=1e-9)
    core_day1 = json.loads(summary[2][6])
    assert core_day1["MSFT"] == pytest.approx(16000 / 45900)

    positions = warehouse.query(
        "select quantity, close, prev_close, market_value, weight, daily_pnl"
        " from gold.fct_portfolio_positions"
        " where portfolio_id = 'core_tech' and ticker = 'NVDA' order by trade_date")
    assert positions == approx_rows([
        (50.0, 50.0, None, 2500.0, 2500 / 45900, None),
        (50.0, 60.0, 50.0, 3000.0, 3000 / 48440, 500.0),
        (50.0, 57.0, 60.0, 2850.0, 2850 / 46550, -150.0),
    ])

    quarantine = warehouse.query(
        "select ticker, trade_date, reason from staging.stg_silver__bars_1m_quarantine"
        " order by ticker")
    assert quarantine == [("AAPL", d(DAY1), "out_of_session"), ("MSFT", d(DAY1), "ohlc_invariant")]


def test_window_runs_are_idempotent_and_replace_only_their_window(warehouse: Warehouse) -> None:
    write_lake(warehouse.lake)
    warehouse.build()
    full = snapshot(warehouse)

    for _ in range(2):
        warehouse.build(window=(DAY2, DAY3))
        assert snapshot(warehouse) == full

    # Correct DAY2 in silver: AAPL closes at 112 instead of 110 and JNJ's bars are withdrawn.
    day2 = [bar for bar in silver_bars()[DAY2] if bar["ticker"] not in ("AAPL", "JNJ")]
    write_partition(warehouse.lake, "bars_1m", DAY2, day2 + day_bars("AAPL", DAY2, 112.0))
    warehouse.build(window=(DAY2, DAY2))
    after = snapshot(warehouse)

    bars_before, bars_after = keyed(full["gold.fct_daily_bars"]), keyed(after["gold.fct_daily_bars"])
    assert set(bars_before) - set(bars_after) == {("JNJ", d(DAY2))}
    changed = {k for k in bars_after if bars_after[k] != bars_before[k]}
    assert changed == {("AAPL", d(DAY2))}
    assert bars_after[("AAPL", d(DAY2))][2:9] == approx_rows([daily_bar(112.0)])[0]

    # Features of later sessions depend on the corrected day, so they are refreshed too.
    feat_before = keyed(full["gold.fct_daily_features"])
    feat_after = keyed(after["gold.fct_daily_features"])
    assert set(feat_before) - set(feat_after) == {("JNJ", d(DAY2))}
    changed = {k for k in feat_after if feat_after[k] != feat_before[k]}
    assert changed == {("AAPL", d(DAY2)), ("AAPL", d(DAY3))}
    assert feat_after[("AAPL", d(DAY2))][3] == pytest.approx(0.12)
    assert feat_after[("AAPL", d(DAY3))][3] == pytest.approx(99 / 112 - 1)

    # core_tech DAY2: 48440 + 100 * 2 = 48640; balanced lacks JNJ on DAY2 and DAY3 now.
    summary = [row[:5] for row in after["gold.daily_portfolio_summary"]]
    assert summary == approx_rows([
        ("balanced", d(DAY1), 139200.0, None, None),
        ("core_tech", d(DAY1), 45900.0, None, None),
        ("core_tech", d(DAY2), 48640.0, 2740.0, 2740 / 45900),
        ("core_tech", d(DAY3), 46550.0, -2090.0, -2090 / 48640),
    ])

    # The incrementally maintained tables equal a full rebuild (which ignores the window).
    warehouse.build("--full-refresh", window=(DAY2, DAY2))
    assert snapshot(warehouse) == after


def test_ohlc_violation_in_silver_fails_the_build(warehouse: Warehouse) -> None:
    write_lake(warehouse.lake)
    day2 = silver_bars()[DAY2]
    bad = next(bar for bar in day2 if bar["ticker"] == "MSFT")
    bad["high"] = bad["close"] - 0.5  # high below close
    write_partition(warehouse.lake, "bars_1m", DAY2, day2)

    result = warehouse.dbt("build")

    assert not result.success
    status = {r.node.name: str(r.status) for r in result.result}
    failed = {name for name, s in status.items() if s in ("fail", "error")}
    assert failed == {"ohlc_consistency_stg_silver__bars_1m_"}
    assert status["fct_daily_bars"] == "skipped"  # the gate stops gold


def test_empty_lake_and_holiday_only_partition(warehouse: Warehouse) -> None:
    warehouse.build()  # no silver files at all yet
    assert warehouse.query("select count(*) from gold.fct_daily_bars") == [(0,)]
    assert warehouse.query("select count(*) from staging.stg_silver__bars_1m_quarantine") == [(0,)]

    write_partition(warehouse.lake, "bars_1m", DAY_OFF, [])
    write_partition(warehouse.lake, "bars_1m_quarantine", DAY_OFF, [])
    warehouse.build(window=(DAY_OFF, DAY_OFF))  # globs match only zero-row files
    for table in GOLD_TABLES:
        assert warehouse.query(f"select count(*) from {table}") == [(0,)]  # noqa: S608


def test_features_rolling_windows_survive_out_of_order_backfills(warehouse: Warehouse) -> None:
    days = [(dt.date(2025, 9, 1) + dt.timedelta(days=i)).isoformat() for i in range(25)]
    closes = [100.0 * (1 + 0.01 * ((i * 7) % 5 - 2)) + i for i in range(25)]
    for day, close in zip(days, closes, strict=True):
        write_partition(warehouse.lake, "bars_1m", day, day_bars("ROLL", day, close))

    warehouse.build(window=(days[12], days[-1]))  # the recent window first ...
    warehouse.build(window=(days[0], days[11]))   # ... then a backfill of the older one

    rows = warehouse.query(
        "select trade_date, daily_return, return_5d, return_20d, realized_vol_20d"
        " from gold.fct_daily_features where ticker = 'ROLL' order by trade_date")
    assert [r[0] for r in rows] == [d(day) for day in days]
    returns = [None] + [closes[i] / closes[i - 1] - 1 for i in range(1, 25)]
    for i, (_, daily, r5, r20, vol) in enumerate(rows):
        assert daily == (None if i < 1 else pytest.approx(returns[i]))
        assert r5 == (None if i < 5 else pytest.approx(closes[i] / closes[i - 5] - 1))
        assert r20 == (None if i < 20 else pytest.approx(closes[i] / closes[i - 20] - 1))
        if i < 20:
            assert vol is None
        else:
            window = returns[i - 19 : i + 1]
            mean = math.fsum(window) / 20
            stdev = math.sqrt(math.fsum((r - mean) ** 2 for r in window) / 19)
            assert vol == pytest.approx(stdev * math.sqrt(252))


def test_negative_volume_or_missing_key_in_silver_fails_the_value_contract(
    warehouse: Warehouse,
) -> None:
    """bar_values_valid: one scan stands for the per-column not_null/positive tests."""
    write_lake(warehouse.lake)
    day2 = silver_bars()[DAY2]
    next(bar for bar in day2 if bar["ticker"] == "MSFT")["volume"] = -5
    next(bar for bar in day2 if bar["ticker"] == "AAPL")["source"] = None
    write_partition(warehouse.lake, "bars_1m", DAY2, day2)

    result = warehouse.dbt("build")

    assert not result.success
    status = {r.node.name: str(r.status) for r in result.result}
    failed = {name for name, s in status.items() if s in ("fail", "error")}
    assert len(failed) == 1 and next(iter(failed)).startswith("bar_values_valid_stg_silver__bars_1m")
    failing = next(r for r in result.result if r.node.name in failed)
    assert failing.failures == 2  # both rows, each once
    assert status["fct_daily_bars"] == "skipped"
