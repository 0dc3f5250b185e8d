"""Restatements: values a vendor changed between two fetches of the same 1-minute bar.

Bronze is append-only and keyed by fetch time, so every earlier answer of the vendor is still
there. For one trading day, every (ticker, ts) is followed through Finks' own fetches in fetch
order; each time a fetch holds a field's value different from the previous fetch that held
the bar, that is one restatement row: ticker, ts, field, old and new value, both fetch times,
and the relative change. A restatement is a fact about the vendor, so:

* all fetches of the day are compared, not just the newest two, and the day's table is rebuilt
  from bronze each time: re-running gives the same rows, and no change is forgotten when a
  third fetch arrives;
* inside one fetch the last copy of a key wins (silver's rule); a bar only one fetch holds
  is not compared (a fetch made during the session simply had fewer bars);
* NaN equals NaN, and a null turning into a value (Yahoo filling a null bar) is a restatement
  with no relative change (it is always beyond any tolerance);
* landed files (``landing/``) are not fetches of ours and are left out.

Days with fewer than two fetches hold no restatement and cost one directory listing.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from finks_assets.lib.lake.layout import bronze_partition_dir
from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.sources.base import BarSource
from finks_assets.lib.tickers import TICKER_PATTERN
from finks_assets.lib.transforms.bronze_audit import BARS_DATASET

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

FIELDS = ("open", "high", "low", "close", "volume")
RESTATEMENT_COLUMNS = [
    "ticker", "ts", "field", "old_value", "new_value", "rel_change",
    "old_fetched_at", "new_fetched_at", "source", "trade_date",
]

_COMPARE_SQL = """
with latest_copy as (
    select * from (
        select *, row_number() over (partition by fetch_file, ticker, ts order by payload_row desc) as n
        from bars where ts is not null and ticker is not null
    ) where n = 1
),
sequenced as (
    select *,
           {lags},
           lag(fetched_at) over w as old_fetched_at
    from latest_copy
    window w as (partition by ticker, ts order by fetched_at, fetch_file)
)
{unions}
order by ticker, ts, field, new_fetched_at
"""
_ONE_FIELD = """
select ticker, ts, '{f}' as field, cast(old_{f} as double) as old_value,
       cast({f} as double) as new_value, old_fetched_at, fetched_at as new_fetched_at
from sequenced
where old_fetched_at is not null and old_{f} is distinct from {f}
"""


def empty_restatements() -> pd.DataFrame:
    """No restatement, with typed columns: an empty day's file must not type text as null
    (readers of several days would then fail to combine the files)."""
    import pandas as pd
    return pd.DataFrame({
        "ticker": pd.Series([], dtype="string"),
        "ts": pd.Series([], dtype="datetime64[us, UTC]"),
        "field": pd.Series([], dtype="string"),
        **{c: pd.Series([], dtype="float64") for c in ("old_value", "new_value", "rel_change")},
        "old_fetched_at": pd.Series([], dtype="datetime64[us, UTC]"),
        "new_fetched_at": pd.Series([], dtype="datetime64[us, UTC]"),
        "source": pd.Series([], dtype="string"), "trade_date": pd.Series([], dtype=object),
    })[RESTATEMENT_COLUMNS]


def detect_restatements(store: LakeStore, source: BarSource, day: dt.date) -> pd.DataFrame:
    """Every value change between consecutive fetches of ``day``'s bars (the module doc)."""
    import duckdb
    import pandas as pd
    files = store.list_parquet(bronze_partition_dir(source.name, BARS_DATASET, day))
    if len(files) < 2:
        return empty_restatements()
    frames = []
    for path in files:
        table = store.read_parquet(path)
        if not table.num_rows:
            continue
        raw = table.to_pandas()
        bars = source.to_canonical(raw)
        fetched_at = pd.to_datetime(raw["_fetched_at"], utc=True)
        frames.append(bars.assign(
            fetched_at=fetched_at.to_numpy(), fetch_file=path.rsplit("/", 1)[-1],
            payload_row=range(len(bars)),
            **{f: pd.to_numeric(bars[f], errors="coerce").astype("float64") for f in FIELDS},
        ))
    if len(frames) < 2:
        return empty_restatements()
    bars = pd.concat(frames, ignore_index=True)
    bars = bars[bars["ticker"].astype(str).map(lambda t: bool(TICKER_PATTERN.fullmatch(t)))]
    sql = _COMPARE_SQL.format(
        lags=", ".join(f"lag({f}) over w as old_{f}" for f in FIELDS),
        unions=" union all ".join(_ONE_FIELD.format(f=f) for f in FIELDS),
    )
    with duckdb.connect(config={"threads": 2}) as con:
        con.execute("set TimeZone = 'UTC'")
        con.register("bars", bars)
        found = con.execute(sql).df()
    if found.empty:
        return empty_restatements()
    changed = (found["new_value"] - found["old_value"]).abs()
    found["rel_change"] = (changed / found["old_value"].abs()).where(found["old_value"] != 0)
    found["source"] = source.name
    found["trade_date"] = day
    for column in ("ts", "old_fetched_at", "new_fetched_at"):
        found[column] = pd.to_datetime(found[column], utc=True).dt.as_unit("us")
    return found[RESTATEMENT_COLUMNS]


def beyond_tolerance(restatements: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """Rows whose relative change exceeds ``tolerance``; a change with no relative size (from or
    to null, or from zero) always does."""
    rel = restatements["rel_change"]
    return restatements[rel.isna() | rel.gt(tolerance)]


def new_rows(current: pd.DataFrame, held: pa.Table | None) -> pd.DataFrame:
    """Rows of ``current`` that the previously written partition did not hold (what a run
    found; the alert reports only those, so re-running a day does not alert again)."""
    import pandas as pd
    if held is None or not held.num_rows:
        return current
    key = ["ticker", "ts", "field", "new_fetched_at"]
    old = held.select(key).to_pandas()
    for column in ("ts", "new_fetched_at"):
        old[column] = pd.to_datetime(old[column], utc=True).dt.as_unit("us")
    merged = current.merge(old.assign(_seen=True), on=key, how="left")
    return current[merged["_seen"].isna().to_numpy()]


def describe(row: pd.Series) -> str:
    """One line per restatement for logs and alerts (no secrets: bars and fetch times only)."""
    import pandas as pd
    rel = "n/a" if pd.isna(row["rel_change"]) else f"{row['rel_change']:.4%}"
    return (f"{row['ticker']} {row['ts']:%Y-%m-%d %H:%M}Z {row['field']}: {row['old_value']}"
            f" -> {row['new_value']} ({rel}), fetched {row['old_fetched_at']:%Y-%m-%d %H:%M:%S}Z"
            f" then {row['new_fetched_at']:%Y-%m-%d %H:%M:%S}Z")
