"""Per-ticker outcomes of an FMP run, shared by the EOD and the per-ticker assets: audit rows,
the run's metadata and the ``all_tickers_delivered`` check, all naming each failed ticker with
the reason FMP gave (a typed, key-free :class:`FmpError`)."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg
import pandas as pd

from finks_assets.sources.fmp.client import FmpPayload
from finks_assets.sources.fmp.errors import FmpError, FmpNoData


def fetch_each(tickers: list[str], fetch: Callable[[str], FmpPayload], log
               ) -> tuple[dict[str, FmpPayload], dict[str, str]]:
    """Call ``fetch`` per ticker; one ticker's FMP failure never stops the others."""
    payloads: dict[str, FmpPayload] = {}
    failures: dict[str, str] = {}
    for ticker in tickers:
        try:
            payloads[ticker] = fetch(ticker)
        except FmpError as exc:
            failures[ticker] = exc.describe()
            level = log.info if isinstance(exc, FmpNoData) else log.warning
            level(f"FMP {ticker}: {exc.describe()}")
    return payloads, failures


def failure_status(reason: str) -> str:
    return "empty" if reason.startswith(FmpNoData.reason) else "error"


def outcome_metadata(asset_key: dg.AssetKey, requested: list[str], failures: dict[str, str],
                     extra: dict) -> tuple[dict, dg.AssetCheckResult]:
    failed = sorted(failures)
    table = "\n".join(["| ticker | reason |", "|---|---|",
                       *(f"| {t} | {failures[t]} |" for t in failed)]) if failed else "none"
    metadata = {
        **extra,
        "tickers_requested": len(requested),
        "tickers_landed": len(requested) - len(failed),
        "failed_tickers": dg.MetadataValue.json(failed),
        "failures": dg.MetadataValue.md(table),
    }
    check = dg.AssetCheckResult(
        asset_key=asset_key, check_name="all_tickers_delivered", passed=not failed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"failed_tickers": dg.MetadataValue.json(failed),
                  "reasons": dg.MetadataValue.json(failures)},
    )
    return metadata, check


def check_spec(asset_key: dg.AssetKey) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        "all_tickers_delivered", asset=asset_key,
        description="Every requested ticker came back from FMP; failures list FMP's reason.",
    )


def audit_frame(records: list[dict], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(records, columns=columns)
