"""The FMP client as a Dagster resource.

The key is a Dagster ``EnvVar`` (built by the resource factory, see ``resources/factory.py``):
Dagster resolves it when the run starts and shows only the variable's *name* in the UI and
in run config, never its value; ``FinksSettings`` has already checked it is set.
"""


import dagster as dg

from finks_assets.lib.sources.fmp.client import DEFAULT_BASE_URL, FmpClient


class FmpResource(dg.ConfigurableResource):
    """Financial Modeling Prep (``FMP_BASE_URL``, ``FMP_API_KEY``, plan rate limit)."""

    api_key: str = ""
    base_url: str = DEFAULT_BASE_URL
    rate_limit_per_minute: int = 300
    max_retries: int = 4
    backoff_factor: float = 1.0
    timeout_seconds: float = 30.0
    statement_period: str = "quarter"
    statement_limit: int = 8

    def client(self) -> FmpClient:
        return FmpClient(
            self.api_key, base_url=self.base_url, rate_limit_per_minute=self.rate_limit_per_minute,
            max_retries=self.max_retries, backoff_factor=self.backoff_factor,
            timeout=self.timeout_seconds,
        )
