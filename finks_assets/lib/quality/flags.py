"""Per-bar flags: which WARN checks name a bar that stays in silver.

A WARN anomaly (a non-reverting outlier jump, a bar of an over-long stale run) is not removed:
a real market can move that fast or stop trading. But it must not vanish either, so a silver
bar carries ``flags``: null for a bar no WARN check names, else the names of the checks that
do, sorted and comma-joined (e.g. ``outlier_jumps``). Gold counts them per ticker-day
(``fct_daily_bars.flagged_bars``), so a suspicious day is visible next to its numbers.

The flags are read off the outcomes the silver quality gate already computed
(:func:`finks_assets.lib.quality.silver_gate.run_silver_gate`), not from a second run of the
checks or a second implementation of their rules: the bars gold counts are exactly the bars the
check metadata names, with the thresholds the checks ran with, at no extra cost. (Running the
two anomaly checks again inside the transform cost 1.4-1.7 s wall for 78,000 bars against
2.3-5.0 s for the whole check suite, three rounds on the loaded 2-core machine.)
Only checks whose offenders are single bars flag; the per-ticker-day WARN checks (intraday
gaps, row counts) have no bar to carry a flag.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from finks_assets.lib.quality.check_base import CheckOutcome

if TYPE_CHECKING:
    import pandas as pd

# The WARN checks whose offenders are single bars (ticker, ts).
FLAG_CHECKS = ("outlier_jumps", "stale_prices")
FLAGS_COLUMN = "flags"


def flags_from_outcomes(bars: pd.DataFrame, outcomes: Mapping[str, CheckOutcome]) -> pd.Series:
    """``flags`` for each row of ``bars`` (unique on ticker, ts) from the checks' offenders.

    A pandas ``string`` Series aligned with ``bars``: <NA> for an unflagged bar, so the Parquet
    column is typed string even on a day without any flag.
    """
    import pandas as pd
    named = [outcomes[name].offenders[["ticker", "ts"]].drop_duplicates().assign(check=name)
             for name in FLAG_CHECKS
             if name in outcomes and not outcomes[name].offenders.empty]
    flags = pd.Series(pd.NA, index=bars.index, dtype="string")
    if not named or bars.empty:
        return flags
    per_bar = (pd.concat(named, ignore_index=True)
               .groupby(["ticker", "ts"], sort=False)["check"]
               .agg(lambda checks: ",".join(sorted(set(checks))))
               .reset_index())
    per_bar["ticker"] = per_bar["ticker"].astype(str)
    per_bar["ts"] = _utc_us(per_bar["ts"])
    keys = pd.DataFrame({"ticker": bars["ticker"].astype(str),
                         "ts": _utc_us(bars["ts"])}).reset_index(drop=True)
    matched = keys.merge(per_bar, on=["ticker", "ts"], how="left")["check"]
    flags[:] = matched.astype("string").to_numpy()
    return flags


def with_flags(bars: pd.DataFrame, outcomes: Mapping[str, CheckOutcome]) -> pd.DataFrame:
    """``bars`` with the ``flags`` column (see the module docstring) as its last column."""
    return bars.assign(**{FLAGS_COLUMN: flags_from_outcomes(bars, outcomes)})


def _utc_us(ts: pd.Series) -> pd.Series:
    """One timestamp type on both sides of the join (DuckDB and pandas may differ in unit)."""
    import pandas as pd
    return pd.to_datetime(ts, utc=True).astype("datetime64[us, UTC]")
