"""The live table as an *observable* source asset: Dagster watches the consumer, it does not
run it (see ``finks_assets.lib.stream.consumer`` for why a stream needs its own process).

Each observation reads the live store's checkpoint; its data version changes when the consumer
applied new objects, and the metadata shows how far behind the stream it is.
"""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg

from finks_assets.defs.stream.compaction import LIVE_BARS
from finks_assets.lib.stream.live_state import checkpoint


def live_bars_asset(db_path: Path) -> dg.SourceAsset:
    @dg.observable_source_asset(
        key=LIVE_BARS, group_name="stream", auto_observe_interval_minutes=1,
        description="Running VWAP, volume and last price per ticker, kept by "
                    "`finks stream-consume` (served at GET /v1/live/{ticker}).",
    )
    def live_bars() -> dg.ObserveResult:
        state = checkpoint(db_path)
        if state is None:
            return dg.ObserveResult(data_version=dg.DataVersion("empty"),
                                    metadata={"store": str(db_path), "objects_applied": 0})
        lag = (time.time() - state["last_applied_at"]) if state["last_applied_at"] else None
        return dg.ObserveResult(
            data_version=dg.DataVersion(f"{state['objects_applied']}:{state['newest_bar_ts']}"),
            metadata={**{k: v for k, v in state.items() if v is not None},
                      "seconds_since_last_commit": round(lag, 1) if lag is not None else -1.0,
                      "store": str(db_path)})

    return live_bars
