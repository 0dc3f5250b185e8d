"""``finks stream-consume``: a small long-running process that keeps the live table current.

Dagster is a scheduler of batch work, not a stream processor: a run per micro-batch would pay
seconds of run start-up for a few hundred rows, every minute of the session. So the stream is
consumed by this process (one per deployment, like a Kafka consumer), and Dagster *observes*
it: the ``stream/live_bars`` observable source asset reads the store's checkpoint (objects
applied, newest bar, lag), and compaction after the close is an ordinary Dagster asset.

Each poll lists the day prefixes of ``landing/source=<s>/dataset=bars_1m_stream/``, applies
every object not yet in the store's ``applied`` table, oldest name first (names sort by
time), and sends the alerts those objects fired. The listing is compared with the applied set,
not with a "start after" key, so a late object is never skipped (see landing.py).

Each object's bars go through silver's own row rules (``canonical_from_bronze`` +
``clean_bars``), so live VWAP is computed over the bars silver will keep; only the bad-print
rule differs, because it needs the *next* bar, which has not arrived yet.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs

from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.logging import get_logger
from finks_assets.lib.sources.base import BarSource
from finks_assets.lib.stream import live_state
from finks_assets.lib.stream.alert_rules import (
    AlertRules,
    StreamAlert,
    evaluate_bar,
    evaluate_staleness,
)
from finks_assets.lib.stream.layout import parse_micro_batch, stream_prefix
from finks_assets.lib.stream.replay import LINEAGE_FETCHED_AT
from finks_assets.lib.transforms.silver_bars import canonical_from_bronze, clean_bars

log = get_logger("stream.consumer")


@dataclass
class PollResult:
    applied: int = 0
    bars: int = 0
    duplicates: int = 0
    alerts: list[StreamAlert] = field(default_factory=list)


class LiveConsumer:
    """Applies micro-batches to the live store; ``send`` delivers fired alerts."""

    def __init__(self, store: LakeStore, db_path: Path, source: BarSource,
                 rules: AlertRules | None = None,
                 send: Callable[[StreamAlert], object] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.source, self.rules = store, source, rules or AlertRules()
        self.send, self.clock = send, clock
        self.con = live_state.connect(db_path)
        self.applied = live_state.applied_keys(self.con)
        self.live = live_state.load_live(self.con)
        self.states = {(r, t): s for r, t, s in
                       self.con.execute("select rule, ticker, state from alert_state")}

    def close(self) -> None:
        self.con.close()

    def pending(self) -> list[str]:
        """Objects not applied yet, in name (= time) order."""
        paths = self.store.list_files(stream_prefix(self.source.name), recursive=True)
        return sorted((p for p in paths if p not in self.applied and parse_micro_batch(p)),
                      key=lambda p: parse_micro_batch(p))

    def poll_once(self, max_objects: int = 2000) -> PollResult:
        """Apply every pending object (up to ``max_objects``) in one transaction.

        One silver-rules pass per poll, not per object: ``clean_bars`` costs ~0.5 s a call on
        this machine (DuckDB start-up, calendar frame) whatever the size, so per object it
        could not keep up with 60x replay; per poll it adds that once to the latency.
        """
        paths = self.pending()[:max_objects]
        result = PollResult()
        if paths:
            result = self.apply(paths)
        self.flush_outbox()
        return result

    def apply(self, paths: list[str]) -> PollResult:
        """Apply ``paths`` (in time order) in one transaction: all of them or none."""
        paths, tables, rejected, canonical = self._readable(paths)
        produced = [_produced_at(t) for t in tables]
        days = [parse_micro_batch(p).trade_date for p in paths]
        good = (clean_bars(canonical, sorted(set(days)), threads=1).bars if paths
                else pd.DataFrame(columns=["ticker", "ts", "close", "volume", "trade_date"]))
        bars = pd.DataFrame({
            "ticker": good["ticker"].astype(str),
            "ts": pd.to_datetime(good["ts"], utc=True).dt.as_unit("us").astype("int64"),
            "close": good["close"].astype(float), "volume": good["volume"].astype("int64"),
            "trade_date": pd.to_datetime(good["trade_date"]).dt.date.astype(str),
        })
        alerts: list[StreamAlert] = []
        states = dict(self.states)
        live = {t: live_state.LiveRow(**vars(r)) for t, r in self.live.items()}
        with live_state.transaction(self.con) as con:
            fresh = live_state.insert_bars(con, bars)
            clock = max((r.last_ts for r in live.values()), default=0)
            for row in fresh.itertuples(index=False):
                state = live.get(row.ticker)
                if state is None or state.trade_date < row.trade_date:
                    state = live[row.ticker] = live_state.LiveRow(
                        row.ticker, row.trade_date, 0, 0.0, 0, 0.0, 0)
                elif state.trade_date > row.trade_date:
                    continue  # a late bar of an earlier day: compaction's business, not live
                state.notional += row.close * row.volume
                state.cum_volume += row.volume
                state.bars += 1
                if row.ts >= state.last_ts:
                    state.last_ts, state.last_price = int(row.ts), float(row.close)
                alerts += evaluate_bar(self.rules, states, row.ticker, int(row.ts),
                                       float(row.close), state.vwap)
                if self.rules.stale_minutes is not None and row.ts > clock:
                    # the stream clock moved on: who has fallen behind it?
                    clock = int(row.ts)
                    alerts += evaluate_staleness(self.rules, states,
                                                 {t: r.last_ts for t, r in live.items()}, clock)
            now = self.clock()
            live_state.save_live(con, (live[t] for t in set(fresh["ticker"])), now)
            con.executemany("insert or replace into alert_state (rule, ticker, state) "
                            "values (?, ?, ?)",
                            [(r, t, s) for (r, t), s in states.items()
                             if self.states.get((r, t)) != s])
            con.executemany("insert into alert_outbox (rule, ticker, bar_ts, text, created_at) "
                            "values (?, ?, ?, ?, ?)",
                            [(a.rule, a.ticker, a.bar_ts, a.detail, now) for a in alerts])
            for path, table, at in zip(paths, tables, produced, strict=True):
                live_state.mark_applied(con, path, table.num_rows, at, now)
            for path in rejected:  # never retried: it would stop every later object
                live_state.mark_applied(con, path, 0, None, now)
        self.applied.update(paths)
        self.applied.update(rejected)
        self.states, self.live = states, live
        return PollResult(len(paths), len(fresh), len(bars) - len(fresh), alerts)

    def _readable(self, paths: list[str]
                  ) -> tuple[list[str], list[pa.Table], list[str], pd.DataFrame]:
        """(paths, tables) that read and map as bars, the paths rejected for good, and the
        mapped canonical bars of the kept ones.

        An object gone since the listing (compaction after the close removed it) is skipped
        and not recorded; one that cannot be read or mapped is logged and recorded as
        applied with no rows, so one bad object does not stall the stream.
        """
        kept, tables, rejected = [], [], []
        for path in paths:
            try:
                table = self.store.read_parquet(path)
            except FileNotFoundError:
                continue
            except Exception as exc:  # noqa: BLE001 - any unreadable payload: skip, say why
                if self.store.filesystem.get_file_info(path).type == pafs.FileType.NotFound:
                    continue
                log.warning("live: rejecting %s: %s", path, type(exc).__name__)
                rejected.append(path)
                continue
            kept.append(path)
            tables.append(table)
        days = [parse_micro_batch(p).trade_date for p in kept]
        try:  # one mapping for the whole poll; only on failure look for the culprit
            return kept, tables, rejected, canonical_from_bronze(self.source, tables, days)
        except Exception:  # noqa: BLE001 - found below, object by object
            good = []
            for path, table, day in zip(kept, tables, days, strict=True):
                try:
                    canonical_from_bronze(self.source, [table], [day])
                    good.append((path, table))
                except Exception as exc:  # noqa: BLE001 - an adapter may raise anything
                    log.warning("live: rejecting %s: %s", path, type(exc).__name__)
                    rejected.append(path)
            kept, tables = [p for p, _ in good], [t for _, t in good]
        days = [parse_micro_batch(p).trade_date for p in kept]
        return kept, tables, rejected, canonical_from_bronze(self.source, tables, days)

    def flush_outbox(self) -> int:
        """Send alerts committed but not yet sent (at-least-once delivery across a crash)."""
        rows = self.con.execute("select id, rule, ticker, bar_ts, text from alert_outbox "
                                "where sent_at is null order by id").fetchall()
        for alert_id, rule, ticker, bar_ts, text in rows:
            if self.send is not None:
                self.send(StreamAlert(rule, ticker, bar_ts, text))
            self.con.execute("update alert_outbox set sent_at = ? where id = ?",
                             (self.clock(), alert_id))
        return len(rows)

    def run(self, poll_seconds: float = 1.0, idle_exit_seconds: float | None = None,
            max_seconds: float | None = None) -> PollResult:
        """Poll until ``idle_exit_seconds`` pass without a new object, or ``max_seconds``."""
        total, started = PollResult(), time.monotonic()
        last_new = started
        while True:
            result = self.poll_once()
            total.applied += result.applied
            total.bars += result.bars
            total.duplicates += result.duplicates
            total.alerts += result.alerts
            now = time.monotonic()
            if result.applied:
                last_new = now
                log.info("live: applied %d objects (%d bars, %d alerts)", result.applied,
                         result.bars, len(result.alerts))
            if idle_exit_seconds is not None and now - last_new >= idle_exit_seconds:
                return total
            if max_seconds is not None and now - started >= max_seconds:
                return total
            time.sleep(poll_seconds)


def _produced_at(table) -> float | None:
    """When the producer flushed the object (newest ``_fetched_at``), epoch seconds."""
    if LINEAGE_FETCHED_AT not in table.column_names or not table.num_rows:
        return None
    return pd.to_datetime(table.column(LINEAGE_FETCHED_AT).to_pandas(), utc=True).max().timestamp()
