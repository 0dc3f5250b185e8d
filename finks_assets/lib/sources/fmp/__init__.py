"""Financial Modeling Prep (FMP): a requests client for the ``/stable`` API and its adapters.

* :mod:`.client` - HTTP, retries (urllib3 ``Retry``), the rate limiter and FMP's error shapes;
* :mod:`.errors` - one typed error per way FMP fails, each with a loggable, key-free reason;
* :mod:`.redact` - keeps ``FMP_API_KEY`` out of every message, URL and log record;
* :mod:`.rate_limit` - a client-side token bucket sized to the plan (e.g. 300 calls/min);
* :mod:`.parse` - raw JSON bytes -> typed frames (silver); bronze never depends on it.
"""

from finks_assets.lib.sources.fmp.client import FmpClient, FmpPayload
from finks_assets.lib.sources.fmp.errors import FmpError

__all__ = ["FmpClient", "FmpError", "FmpPayload"]
