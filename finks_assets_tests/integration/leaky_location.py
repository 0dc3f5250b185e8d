"""A test code location: the real Finks definitions with one trading day planted bad.

``test_backfill_via_webserver`` points ``dagster dev`` at this module. It wraps the silver
transform so that, on the day named by ``FINKS_TEST_BAD_DAY``, a few bars with a negative
volume slip through into silver's good bars. The blocking ``non_negative_volume`` check then
fails for that day alone, which is how a real transform bug would surface.

The fault is live only while the file named by ``FINKS_TEST_LEAK_MARKER`` exists, and both
are read at call time, in the run worker: deleting the file "fixes" the day without
restarting ``dagster dev`` or reloading the location.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd

from finks_assets.definitions import defs  # noqa: F401 (the location's Definitions)
from finks_assets.defs.bars_1m import silver
from finks_assets.lib.transforms.silver_bars import SilverResult

BAD_DAY_VAR = "FINKS_TEST_BAD_DAY"
MARKER_VAR = "FINKS_TEST_LEAK_MARKER"
LEAKED_BARS = 5  # bars of the bad day whose volume turns negative

_clean_bars = silver.clean_bars


def leaky_clean_bars(bars: pd.DataFrame, days: list[dt.date], *args, **kwargs) -> SilverResult:
    """The real transform, then (while the marker exists) a planted bug on the bad day."""
    result = _clean_bars(bars, days, *args, **kwargs)
    bad_day = os.environ.get(BAD_DAY_VAR)
    marker = os.environ.get(MARKER_VAR)
    if not bad_day or not marker or not Path(marker).exists() or result.bars.empty:
        return result
    on_day = pd.to_datetime(result.bars["trade_date"]).dt.date == dt.date.fromisoformat(bad_day)
    leaked = result.bars.index[on_day][:LEAKED_BARS]
    result.bars.loc[leaked, "volume"] = -1
    return result


silver.clean_bars = leaky_clean_bars
