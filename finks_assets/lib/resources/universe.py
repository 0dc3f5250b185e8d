"""The ticker universe as resources: validated tickers for runs, the raw spec for sensors."""

from __future__ import annotations

import dagster as dg


class UniverseResource(dg.ConfigurableResource):
    """The default ticker universe (``FINKS_UNIVERSE``), already validated."""

    tickers: list[str]


class UniverseSpecResource(dg.ConfigurableResource):
    """``FINKS_UNIVERSE`` as given (a comma list or a file path), re-read by the sensor."""

    spec: str
