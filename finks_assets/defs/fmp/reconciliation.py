"""The reconciliation of daily bars rolled up from 1-minute data (gold ``fct_daily_bars``)
against FMP's end-of-day bars (``silver/fmp_bars_1d``): a warning check on gold."""


import datetime as dt

import dagster as dg
import pandas as pd

from finks_assets.defs.fmp.eod import SILVER_FMP_BARS_1D
from finks_assets.lib.lake.fmp_layout import BARS_1D
from finks_assets.lib.resources.lake import LakeResource
from finks_assets.lib.resources.warehouse import WarehouseResource

FCT_DAILY_BARS = dg.AssetKey(["gold", "fct_daily_bars"])
CLOSE_TOLERANCE = 0.005  # 0.5 %: adjusted vs unadjusted closes and auction prints differ less
VOLUME_TOLERANCE = 0.10  # 10 %: 1-minute feeds miss odd lots and late prints (yfinance #2542)


def reconcile(minute_daily: pd.DataFrame, eod: pd.DataFrame, close_tolerance: float = CLOSE_TOLERANCE,
              volume_tolerance: float = VOLUME_TOLERANCE) -> tuple[int, pd.DataFrame]:
    """Join on (ticker, trade_date); return how many pairs were compared and the mismatches
    (relative close or volume difference beyond the tolerance)."""
    pairs = minute_daily.merge(eod, on=["ticker", "trade_date"], suffixes=("_1m", "_fmp"))
    if pairs.empty:
        return 0, pairs
    pairs["close_diff"] = (pairs["close_1m"] - pairs["close_fmp"]).abs() / pairs["close_fmp"]
    pairs["volume_diff"] = ((pairs["volume_1m"] - pairs["volume_fmp"]).abs()
                            / pairs["volume_fmp"].where(pairs["volume_fmp"] > 0))
    bad = pairs[(pairs["close_diff"] > close_tolerance)
                | (pairs["volume_diff"].fillna(0) > volume_tolerance)]
    columns = ["ticker", "trade_date", "close_1m", "close_fmp", "close_diff",
               "volume_1m", "volume_fmp", "volume_diff"]
    return len(pairs), bad[columns].sort_values(["ticker", "trade_date"]).reset_index(drop=True)


def read_silver_fmp_bars_1d(lake: LakeResource) -> pd.DataFrame:
    store = lake.store()
    frames = [
        store.read_parquet(path).to_pandas()[["ticker", "close", "volume"]].assign(
            trade_date=dt.date.fromisoformat(path.split("trade_date=", 1)[1][:10]))
        for path in store.list_files(f"silver/{BARS_1D}", recursive=True)
    ]
    if not frames:
        return pd.DataFrame(columns=["ticker", "close", "volume", "trade_date"])
    return pd.concat(frames, ignore_index=True)


@dg.asset_check(
    asset=FCT_DAILY_BARS, additional_deps=[SILVER_FMP_BARS_1D], name="reconciles_with_fmp_eod",
    # It reads warehouse.duckdb: DuckDB refuses a reader while another process writes gold.
    pool="duckdb_gold",
    description=f"Daily bars rolled up from 1-minute data agree with FMP EOD: close within "
                f"{CLOSE_TOLERANCE:.1%}, volume within {VOLUME_TOLERANCE:.0%}.",
)
def fmp_eod_reconciliation(warehouse: WarehouseResource, lake: LakeResource) -> dg.AssetCheckResult:
    eod = read_silver_fmp_bars_1d(lake)
    with warehouse.connect_read_only() as con:
        minute_daily = con.execute(
            "select ticker, trade_date, close, volume from gold.fct_daily_bars "
            "where source <> 'fmp'").df()
    minute_daily["trade_date"] = pd.to_datetime(minute_daily["trade_date"]).dt.date
    compared, bad = reconcile(minute_daily, eod)
    return dg.AssetCheckResult(
        passed=bad.empty, severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "compared_ticker_days": compared,
            "mismatches": len(bad),
            "close_tolerance": CLOSE_TOLERANCE, "volume_tolerance": VOLUME_TOLERANCE,
            "mismatched": dg.MetadataValue.md(bad.head(50).to_markdown(index=False))
            if not bad.empty else ("nothing to compare: no FMP EOD overlap" if not compared
                                   else "all within tolerance"),
            "mismatched_keys": dg.MetadataValue.json(
                [f"{r.ticker}@{r.trade_date}" for r in bad.head(200).itertuples()]),
        },
    )
