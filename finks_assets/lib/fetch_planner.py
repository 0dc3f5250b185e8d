"""The fetch planner: a run asks the vendor only for the (ticker, session) pairs bronze lacks.

Bronze is append-only and the ingestion audit records, per fetch, ticker and day, what came
back. A pair is *held* when some fetch still present in bronze delivered it (audit status
``ok`` with rows) after the session had closed; a fetch made during the session holds only
the bars that existed then, so it does not count. Minute gaps do not make a held day
incomplete: an illiquid ticker's missing minutes are the vendor's final answer, and asking
again would re-fetch such a day forever -- and for yfinance, past its 30-day window, get an
error instead of bars. Vendor revisions are the trailing re-check's job (``refetch``).

Everything else is fetched: never fetched, fetched empty or with an error, fetched before the
close, or a bronze file that is gone. ``refetch`` ignores what is held (a refresh, or the
restatement re-check); the older fetches stay in bronze either way, since nothing here deletes.

Tickers that miss the same sessions are fetched together (one vendor call for the group), so
the common cases -- a new day for every ticker, or new tickers over the whole window -- cost one
call, as before, and a window that is fully held costs none.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from finks_assets.lib import market_calendar
from finks_assets.lib.lake.layout import bronze_partition_dir
from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.transforms.bronze_audit import BARS_DATASET
from finks_assets.lib.transforms.bronze_reader import read_day_audit

if TYPE_CHECKING:
    import pandas as pd

FAILED_STATUSES = frozenset({"error", "empty"})


@dataclass(frozen=True)
class FetchGroup:
    """Tickers that miss exactly the same sessions, fetched in one vendor call."""

    sessions: tuple[dt.date, ...]
    tickers: tuple[str, ...]


@dataclass(frozen=True)
class FetchPlan:
    """What a run fetches (``groups``) and which sessions it skips because bronze holds them."""

    groups: tuple[FetchGroup, ...]
    held: dict[str, tuple[dt.date, ...]] = field(default_factory=dict)

    @property
    def pairs_to_fetch(self) -> int:
        return sum(len(g.sessions) * len(g.tickers) for g in self.groups)

    @property
    def pairs_skipped(self) -> int:
        return sum(len(days) for days in self.held.values())


def held_sessions(
    store: LakeStore, source: str, tickers: Iterable[str], sessions: Sequence[dt.date]
) -> dict[str, set[dt.date]]:
    """Per ticker, the sessions among ``sessions`` that bronze holds (see the module doc)."""
    import pandas as pd
    wanted = set(tickers)
    held: dict[str, set[dt.date]] = defaultdict(set)
    for day in sessions:
        session = market_calendar.session(day)
        if session is None:
            continue
        present = {_stem(p) for p in store.list_parquet(bronze_partition_dir(source, BARS_DATASET,
                                                                             day))}
        if not present:
            continue
        audit = read_day_audit(store, source, day)
        if audit.empty:
            continue
        fetched_at = pd.to_datetime(audit["fetched_at"], utc=True)
        delivered = (
            audit["status"].eq("ok")
            & pd.to_numeric(audit["rows_received"], errors="coerce").fillna(0).gt(0)
            & audit["fetch"].isin(present)
            & fetched_at.ge(session.close_utc).fillna(False)
        )
        for ticker in set(audit.loc[delivered, "ticker"]) & wanted:
            held[ticker].add(day)
    return held


def plan_fetches(
    store: LakeStore, source: str, tickers: Sequence[str], sessions: Sequence[dt.date],
    refetch: bool = False,
) -> FetchPlan:
    """Group the tickers by the sessions each still needs; ``refetch`` needs them all."""
    sessions = sorted(set(sessions))
    held = {} if refetch else held_sessions(store, source, tickers, sessions)
    missing: dict[tuple[dt.date, ...], list[str]] = defaultdict(list)
    for ticker in tickers:
        need = tuple(d for d in sessions if d not in held.get(ticker, ()))
        if need:
            missing[need].append(ticker)
    groups = tuple(FetchGroup(days, tuple(names)) for days, names in sorted(missing.items()))
    return FetchPlan(groups, {t: tuple(sorted(held.get(t, ()))) for t in tickers})


def fetch_report(plan: FetchPlan, audit: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Per ticker: sessions fetched (delivered bars), skipped (held) and failed (error/empty).

    ``audit`` holds this run's audit records; market-closed days count as none of the three.
    """
    counts: dict[str, dict[str, int]] = {
        ticker: {"fetched": 0, "skipped": len(days), "failed": 0}
        for ticker, days in plan.held.items()
    }
    if not audit.empty:
        for (ticker, status), n in audit.groupby(["ticker", "status"]).size().items():
            row = counts.setdefault(ticker, {"fetched": 0, "skipped": 0, "failed": 0})
            if status == "ok":
                row["fetched"] += int(n)
            elif status in FAILED_STATUSES:
                row["failed"] += int(n)
    return counts


def report_lines(report: dict[str, dict[str, int]]) -> list[str]:
    return [f"{ticker}: fetched {r['fetched']}, skipped {r['skipped']}, failed {r['failed']}"
            for ticker, r in sorted(report.items())]


def _stem(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(".parquet")
