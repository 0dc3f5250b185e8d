"""Per-ticker outcomes of an FMP run, shared by the EOD and the per-ticker assets: the fetch loop,
the run's metadata and the ``all_tickers_delivered`` check, all naming each failed ticker with
the reason FMP gave (a typed, key-free :class:`FmpError`).

A symbol's own failure (402 plan, 403, ``[]``, an error message) is recorded and the others go
on. A rejected key is not a symbol's failure: the first 401 (or FMP's "Invalid API KEY" message)
fails the step at once, without retries, so a wrong key can never "succeed" with empty data.
If FMP is unreachable for every ticker (429/5xx/timeouts outlasting the client's own retries)
the step fails too, and the assets' :data:`FMP_RETRY_POLICY` runs it again later. A run in which
no ticker was delivered at all (every one refused, empty or failed) fails as well, naming the
reasons: a step that lands nothing must not look like a successful, merely empty, day.
"""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from finks_assets.lib.resources.fmp import FmpResource
from finks_assets.lib.sources.fmp.client import FmpClient, FmpPayload
from finks_assets.lib.sources.fmp.errors import (
    FmpAuthError,
    FmpError,
    FmpErrorMessage,
    FmpNoData,
    FmpRateLimited,
    FmpServerError,
    FmpTransportError,
)

# Every FMP request runs in this Dagster pool, so concurrent runs share the plan's quota
# instead of multiplying it (the pool's limit is instance config: dagster.yaml / Helm values).
FMP_POOL = "fmp_api"
FMP_RETRY_POLICY = dg.RetryPolicy(max_retries=2, delay=60, backoff=dg.Backoff.EXPONENTIAL,
                                  jitter=dg.Jitter.PLUS_MINUS)
_TRANSIENT = (FmpRateLimited, FmpServerError, FmpTransportError)


def _rejects_key(exc: FmpError) -> bool:
    return isinstance(exc, FmpAuthError) or (
        isinstance(exc, FmpErrorMessage) and "invalid api key" in str(exc).lower())


def fetch_each(fmp: FmpResource, tickers: list[str], fetch: Callable[[FmpClient, str], FmpPayload],
               log) -> tuple[dict[str, FmpPayload], dict[str, str]]:
    """Call ``fetch`` per ticker; one ticker's FMP failure never stops the others."""
    payloads: dict[str, FmpPayload] = {}
    failures: dict[str, str] = {}
    transient = 0
    try:
        with fmp.client() as client:
            for ticker in tickers:
                try:
                    payloads[ticker] = fetch(client, ticker)
                except FmpError as exc:
                    if _rejects_key(exc):
                        raise
                    failures[ticker] = exc.describe()
                    transient += isinstance(exc, _TRANSIENT)
                    (log.info if isinstance(exc, FmpNoData) else log.warning)(
                        f"FMP {ticker}: {exc.describe()}")
    except FmpError as exc:  # only a rejected key gets here
        raise dg.Failure(
            f"FMP rejected the API key ({exc.describe()}); stopped after "
            f"{len(payloads) + len(failures) + 1} request(s). Check FMP_API_KEY.",
            allow_retries=False) from None
    if tickers and transient == len(tickers):
        raise RuntimeError(f"FMP unavailable for all {len(tickers)} tickers, e.g. "
                           f"{next(iter(failures.values()))}; the step will be retried")
    if tickers and not payloads:  # nothing landed: "success" would be a silently empty day
        named = "; ".join(f"{t}: {failures[t]}" for t in sorted(failures)[:5])
        raise dg.Failure(
            f"FMP delivered none of the {len(tickers)} requested ticker(s) ({named}"
            f"{'; ...' if len(failures) > 5 else ''})",
            metadata={"failed_tickers": dg.MetadataValue.json(sorted(failures)),
                      "reasons": dg.MetadataValue.json(failures)},
            allow_retries=transient > 0)  # only a transient failure may pass on a retry
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
