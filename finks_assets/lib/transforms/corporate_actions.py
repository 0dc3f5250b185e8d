"""Silver corporate actions: validate parsed vendor events, quarantine the bad ones with a
reason, and keep when Finks first saw each event.

Rules, in order (a row gets the first reason it fails):

* ``invalid_ticker``: the payload's symbol does not match the one ticker pattern;
* ``ticker_mismatch``: a valid symbol, but not the ticker that was asked for;
* ``invalid_ex_date``: no parseable ``YYYY-MM-DD`` ex-date;
* ``unknown_kind``: neither ``split`` nor ``cash_dividend``;
* ``invalid_split_ratio``: a split whose ratio is missing, not finite, <= 0 or exactly 1;
* ``invalid_cash_amount``: a dividend whose amount is missing, not finite or <= 0;
* ``invalid_currency``: a dividend whose currency is not a three-letter ISO code;
* ``conflicting_split``: two splits of one ticker on one ex-date with different ratios.

Two dividends of one ticker on one ex-date (a regular and a special one) are both valid and
are summed into one row, since the adjustment factor depends only on the day's total cash.
Identical splits reported twice collapse into one row.

``first_seen_at`` is the earliest ``fetched_at`` at which an identical event (same ticker,
ex-date, kind, source and value) was in silver: the point-in-time join of gold
(``finks_adjusted_bars_as_of``) uses it to adjust prices only by what was known at the time.
A vendor that changes an event's value makes it a new event, first seen at that fetch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from finks_assets.lib.sources.corporate_actions.base import KINDS, PARSED_COLUMNS
from finks_assets.lib.tickers import TICKER_PATTERN

if TYPE_CHECKING:
    import pandas as pd

SILVER_COLUMNS = ("ticker", "ex_date", "kind", "split_ratio", "cash_amount", "currency", "source",
                  "fetched_at", "first_seen_at")
QUARANTINE_COLUMNS = (*PARSED_COLUMNS, "source", "fetched_at", "reason")
QUARANTINE_REASONS = ("invalid_ticker", "ticker_mismatch", "invalid_ex_date", "unknown_kind",
                      "invalid_split_ratio", "invalid_cash_amount", "invalid_currency",
                      "conflicting_split")
_KEY = ["ticker", "ex_date", "kind", "source"]


@dataclass(frozen=True)
class SilverActions:
    actions: pd.DataFrame  # SILVER_COLUMNS
    quarantine: pd.DataFrame  # QUARANTINE_COLUMNS


def _finite_positive(values: pd.Series) -> pd.Series:
    import numpy as np
    import pandas as pd
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    return numbers.notna() & np.isfinite(numbers) & (numbers > 0)


def _reasons(frame: pd.DataFrame, requested: str) -> pd.Series:
    """The first rule each row fails (None when it passes), vectorised: a row-by-row pass took
    ~0.4 s per synthetic ticker's 1,200 events, i.e. minutes for 500 tickers."""
    import pandas as pd
    ticker = frame["ticker"]
    valid_ticker = ticker.map(lambda t: isinstance(t, str) and bool(TICKER_PATTERN.fullmatch(t)))
    split = frame["kind"] == "split"
    ratio = pd.to_numeric(frame["split_ratio"], errors="coerce")
    currency = frame["currency"].map(
        lambda c: isinstance(c, str) and len(c) == 3 and c.isalpha() and c.isupper())
    rules = [
        ("invalid_ticker", ~valid_ticker),
        ("ticker_mismatch", ticker != requested),
        ("invalid_ex_date", frame["ex_date_parsed"].isna()),
        ("unknown_kind", ~frame["kind"].isin(KINDS)),
        ("invalid_split_ratio", split & (~_finite_positive(frame["split_ratio"]) | (ratio == 1.0))),
        ("invalid_cash_amount", ~split & ~_finite_positive(frame["cash_amount"])),
        ("invalid_currency", ~split & ~currency),
    ]
    reasons = pd.Series(None, index=frame.index, dtype=object)
    for reason, failed in reversed(rules):  # the first failing rule wins
        reasons[failed.fillna(True).astype(bool).to_numpy()] = reason
    return reasons


def clean_actions(parsed: pd.DataFrame, requested: str, source: str, fetched_at: pd.Timestamp,
                  previous: pd.DataFrame | None = None) -> SilverActions:
    """One ticker's parsed events (``PARSED_COLUMNS``) -> silver rows and quarantined rows.

    ``previous`` is the ticker's silver before this fetch (for ``first_seen_at``).
    """
    import pandas as pd
    frame = parsed.reset_index(drop=True).copy()
    frame["ex_date_parsed"] = pd.to_datetime(frame["ex_date"].astype("string"), format="%Y-%m-%d",
                                             errors="coerce").dt.date
    frame["reason"] = _reasons(frame, requested)
    frame["source"], frame["fetched_at"] = source, fetched_at
    good = frame[frame["reason"].isna()].assign(ex_date=lambda f: f["ex_date_parsed"])
    splits = good[good["kind"] == "split"]
    ratios = splits.groupby(["ex_date"])["split_ratio"].nunique()
    conflicting = set(ratios[ratios > 1].index)
    bad_split = good.index[(good["kind"] == "split") & good["ex_date"].isin(conflicting)]
    frame.loc[bad_split, "reason"] = "conflicting_split"
    good = good.drop(index=bad_split)
    actions = (good.groupby(["ticker", "ex_date", "kind", "source", "fetched_at"], dropna=False)
               .agg(split_ratio=("split_ratio", "first"), cash_amount=("cash_amount", "sum"),
                    currency=("currency", "first"))
               .reset_index())
    actions.loc[actions["kind"] == "split", "cash_amount"] = None
    actions["first_seen_at"] = _first_seen(actions, previous, fetched_at)
    quarantine = frame[frame["reason"].notna()].drop(columns=["ex_date_parsed"])
    quarantine = quarantine.assign(ex_date=quarantine["ex_date"].astype("string"))
    return SilverActions(
        actions[list(SILVER_COLUMNS)].sort_values(["ex_date", "kind"]).reset_index(drop=True),
        quarantine[list(QUARANTINE_COLUMNS)].reset_index(drop=True))


def _first_seen(actions: pd.DataFrame, previous: pd.DataFrame | None,
                fetched_at: pd.Timestamp) -> pd.Series:
    """``min(previous first_seen_at, fetched_at)`` for an event with identical values."""
    import pandas as pd
    seen = pd.Series(fetched_at, index=actions.index, dtype="datetime64[ns, UTC]")
    if previous is None or previous.empty or actions.empty:
        return seen
    before = previous.assign(ex_date=pd.to_datetime(previous["ex_date"]).dt.date)
    merged = actions.reset_index().merge(before[[*_KEY, "split_ratio", "cash_amount", "first_seen_at"]],
                                         on=_KEY, how="left", suffixes=("", "_prev"))
    same = (_close(merged["split_ratio"], merged["split_ratio_prev"])
            & _close(merged["cash_amount"], merged["cash_amount_prev"]))
    earlier = pd.to_datetime(merged["first_seen_at"], utc=True)
    keep = same & earlier.notna() & (earlier < fetched_at)
    seen.loc[merged.loc[keep, "index"].to_numpy()] = earlier[keep].to_numpy()
    return seen


def _close(a: pd.Series, b: pd.Series) -> pd.Series:
    """Equal values, treating two missing values as equal (a split has no cash amount)."""
    a, b = a.astype("float64"), b.astype("float64")
    return (a.isna() & b.isna()) | ((a - b).abs() <= 1e-12 * b.abs().clip(lower=1.0))
