"""The reconciliation of daily bars rolled up from 1-minute data (gold ``fct_daily_bars``)
against FMP's end-of-day bars (``silver/fmp_bars_1d``): a warning check on gold.

Close, volume and VWAP are compared. The two VWAPs are not the same quantity: gold's ``vwap``
is Finks' own, sum(close * volume) / sum(volume) over the day's 1-minute bars, while FMP's
daily ``vwap`` (``vendor_vwap`` in gold) is FMP's figure, whose formula FMP does not document
and which tracks the day's typical price more than its traded volume. So the VWAP tolerance
is wide: it is there to catch a day whose volume-weighted price is off altogether (a bad print
left in the day: VWAP 180 against 121, +49 %), not to audit FMP's arithmetic.
"""


import datetime as dt
from typing import TYPE_CHECKING, NamedTuple

import dagster as dg

from finks_assets.defs.fmp.eod import SILVER_FMP_BARS_1D
from finks_assets.lib.lake.fmp_layout import BARS_1D
from finks_assets.lib.resources.lake import LakeResource
from finks_assets.lib.resources.warehouse import WarehouseResource

if TYPE_CHECKING:
    import pandas as pd

FCT_DAILY_BARS = dg.AssetKey(["gold", "fct_daily_bars"])
CLOSE_TOLERANCE = 0.005  # 0.5 %: adjusted vs unadjusted closes and auction prints differ less
VOLUME_TOLERANCE = 0.10  # 10 %: 1-minute feeds miss odd lots and late prints (yfinance #2542)
# 2 %: FMP's vwap is its own (typical-price-like) figure, not a 1-minute VWAP; the two differ
# by up to about a third of the day's range on a trending day (a liquid stock's range: 1-3 %).
VWAP_TOLERANCE = 0.02
COLUMNS = ["ticker", "trade_date", "close_1m", "close_fmp", "close_diff", "volume_1m",
           "volume_fmp", "volume_diff", "vwap_1m", "vwap_fmp", "vwap_diff"]


class Reconciliation(NamedTuple):
    compared: int  # (ticker, trade_date) pairs present on both sides
    mismatches: "pd.DataFrame"  # COLUMNS, one row per pair with a difference beyond tolerance
    vwap_compared: int  # pairs where both VWAPs exist (a zero-volume day has none)


def reconcile(minute_daily: "pd.DataFrame", eod: "pd.DataFrame", close_tolerance: float = CLOSE_TOLERANCE,
              volume_tolerance: float = VOLUME_TOLERANCE,
              vwap_tolerance: float = VWAP_TOLERANCE) -> Reconciliation:
    """Join on (ticker, trade_date); the mismatches are pairs whose relative close, volume or
    VWAP difference is beyond its tolerance. ``vwap`` is gold's vwap in ``minute_daily`` and
    FMP's in ``eod``; a frame without the column (or a null value) is simply not compared."""
    import pandas as pd
    minute_daily, eod = (f if "vwap" in f.columns else f.assign(vwap=float("nan"))
                         for f in (minute_daily, eod))
    pairs = minute_daily.merge(eod, on=["ticker", "trade_date"], suffixes=("_1m", "_fmp"))
    if pairs.empty:
        return Reconciliation(0, pd.DataFrame(columns=COLUMNS), 0)
    pairs["close_diff"] = (pairs["close_1m"] - pairs["close_fmp"]).abs() / pairs["close_fmp"]
    pairs["volume_diff"] = ((pairs["volume_1m"] - pairs["volume_fmp"]).abs()
                            / pairs["volume_fmp"].where(pairs["volume_fmp"] > 0))
    vwap_1m, vwap_fmp = (pd.to_numeric(pairs[c], errors="coerce") for c in ("vwap_1m", "vwap_fmp"))
    pairs["vwap_diff"] = (vwap_1m - vwap_fmp).abs() / vwap_fmp.where(vwap_fmp > 0)
    bad = pairs[(pairs["close_diff"] > close_tolerance)
                | (pairs["volume_diff"].fillna(0) > volume_tolerance)
                | (pairs["vwap_diff"].fillna(0) > vwap_tolerance)]
    return Reconciliation(
        len(pairs), bad[COLUMNS].sort_values(["ticker", "trade_date"]).reset_index(drop=True),
        int(pairs["vwap_diff"].notna().sum()))


def read_silver_fmp_bars_1d(lake: LakeResource) -> "pd.DataFrame":
    """ticker, close, volume, vwap (FMP's own) and trade_date of every silver FMP EOD bar."""
    import pandas as pd
    store = lake.store()
    columns = ["ticker", "close", "volume", "vwap"]
    frames = [
        store.read_parquet(path).to_pandas().reindex(columns=columns).assign(
            trade_date=dt.date.fromisoformat(path.split("trade_date=", 1)[1][:10]))
        for path in store.list_files(f"silver/{BARS_1D}", recursive=True)
    ]
    if not frames:
        return pd.DataFrame(columns=[*columns, "trade_date"])
    return pd.concat(frames, ignore_index=True)


@dg.asset_check(
    asset=FCT_DAILY_BARS, additional_deps=[SILVER_FMP_BARS_1D], name="reconciles_with_fmp_eod",
    # It reads warehouse.duckdb: DuckDB refuses a reader while another process writes gold.
    pool="duckdb_gold",
    description=f"Daily bars rolled up from 1-minute data agree with FMP EOD: close within "
                f"{CLOSE_TOLERANCE:.1%}, volume within {VOLUME_TOLERANCE:.0%}, vwap (Finks' "
                f"1-minute vwap against FMP's own figure) within {VWAP_TOLERANCE:.0%}.",
)
def fmp_eod_reconciliation(warehouse: WarehouseResource, lake: LakeResource) -> dg.AssetCheckResult:
    import pandas as pd
    eod = read_silver_fmp_bars_1d(lake)
    with warehouse.connect_read_only() as con:
        minute_daily = con.execute(
            "select ticker, trade_date, close, volume, vwap from gold.fct_daily_bars "
            "where source <> 'fmp'").df()
    minute_daily["trade_date"] = pd.to_datetime(minute_daily["trade_date"]).dt.date
    compared, bad, vwap_compared = reconcile(minute_daily, eod)
    return dg.AssetCheckResult(
        passed=bad.empty, severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "compared_ticker_days": compared,
            "mismatches": len(bad),
            "close_tolerance": CLOSE_TOLERANCE, "volume_tolerance": VOLUME_TOLERANCE,
            "vwap_tolerance": VWAP_TOLERANCE,
            "vwap_compared_ticker_days": vwap_compared,
            "vwap_mismatches": int((bad["vwap_diff"] > VWAP_TOLERANCE).sum()),
            "mismatched": dg.MetadataValue.md(bad.head(50).to_markdown(index=False))
            if not bad.empty else ("nothing to compare: no FMP EOD overlap" if not compared
                                   else "all within tolerance"),
            "mismatched_keys": dg.MetadataValue.json(
                [f"{r.ticker}@{r.trade_date}" for r in bad.head(200).itertuples()]),
        },
    )
