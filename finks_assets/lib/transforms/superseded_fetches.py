"""Which bronze fetches of a day silver can skip, because a newer fetch replaces every row.

Bronze is append-only (design decision 4: the latest fetch wins per minute), so each re-load
of a window adds one more file per trading day. Silver used to read and deduplicate all of
them, so the tenth re-load of a week read eleven copies of it. A fetch contributes nothing to
silver, to quarantine or to any check when, for every ticker it holds, a strictly newer fetch
of the same day holds *every* session minute and the older fetch's rows all sit on session
minutes: each of its rows then loses the (ticker, ts) dedup to the newer copy. Whether that
holds is decided from the ingestion audit alone, without opening the fetch's file:

* ``aligned_minutes`` (distinct minute-aligned timestamps) equal to the distinct timestamps
  (``rows_received - duplicate_rows``) and ``first_ts``/``last_ts`` inside the session mean
  every row is a session minute ("on the grid");
* on the grid with ``aligned_minutes`` equal to the session's minutes means complete.

Anything the audit cannot vouch for is read as before: audit files written before
``aligned_minutes`` existed, fetches with an error or a partial day, rows off the grid (a
misaligned or out-of-session row has no newer copy and must still reach quarantine), fetches
with duplicate rows (silver counts a payload's conflicting duplicates, so skipping one would
change what silver reports), and payloads dropped under ``landing/``, which have no audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from finks_assets.lib.market_calendar import Session

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class SkippedFetches:
    """Bronze fetch names (file stems) silver need not read, and the rows they hold."""

    names: frozenset[str]
    rows: int

    @classmethod
    def none(cls) -> SkippedFetches:
        return cls(frozenset(), 0)


def superseded_fetches(
    audit: pd.DataFrame, session: Session | None, present: set[str]
) -> SkippedFetches:
    """The fetches in ``present`` whose every row a newer, complete fetch in ``present`` replaces.

    ``audit`` holds one day's audit records with a ``fetch`` column naming the bronze file
    each record describes. ``present`` is the set of bronze files found for the day.
    """
    import pandas as pd
    if session is None or audit.empty or "aligned_minutes" not in audit.columns:
        return SkippedFetches.none()
    ok = audit[(audit["status"] == "ok") & audit["fetch"].isin(present)]
    if ok.empty:
        return SkippedFetches.none()
    distinct = ok["rows_received"] - ok["duplicate_rows"]
    last_minute = session.close_utc - pd.Timedelta(minutes=1)
    on_grid = (
        ok["aligned_minutes"].eq(distinct)
        & pd.to_datetime(ok["first_ts"], utc=True).ge(session.open_utc)
        & pd.to_datetime(ok["last_ts"], utc=True).le(last_minute)
    ).fillna(False)
    complete = on_grid & ok["aligned_minutes"].eq(session.minutes).fillna(False)
    fetched_at = pd.to_datetime(ok["fetched_at"], utc=True)
    newest_complete = fetched_at[complete].groupby(ok.loc[complete, "ticker"]).max()
    replaced = (on_grid & ok["duplicate_rows"].eq(0).fillna(False)
                & fetched_at.lt(ok["ticker"].map(newest_complete)).fillna(False))
    by_fetch = pd.DataFrame({"fetch": ok["fetch"], "replaced": replaced,
                             "rows": ok["rows_received"]}).groupby("fetch")
    skippable = by_fetch["replaced"].all()
    names = frozenset(skippable[skippable].index)
    rows = int(by_fetch["rows"].sum()[list(names)].sum()) if names else 0
    return SkippedFetches(names, rows)
