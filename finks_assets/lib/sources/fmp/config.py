"""FMP settings as values (``FMP_*`` variables, read only by ``finks_assets.lib.settings``).

The key is a ``SecretStr``: its ``repr``/``str`` print ``**********``, so a settings object can
be logged or shown in an error without leaking it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from finks_assets.lib.sources.fmp.client import DEFAULT_BASE_URL

DEFAULT_RATE_LIMIT_PER_MINUTE = 300  # FMP Starter; Premium is 750, Ultimate 3000


@dataclass(frozen=True)
class FmpSettings:
    api_key: SecretStr | None = None
    base_url: str = DEFAULT_BASE_URL
    rate_limit_per_minute: int = DEFAULT_RATE_LIMIT_PER_MINUTE
