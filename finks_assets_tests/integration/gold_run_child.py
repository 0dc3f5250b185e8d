"""A real Dagster run of the gold dbt step, in its own process, that can stop at a named moment.

``python -m finks_assets_tests.integration.gold_run_child DATA_DIR START END STOP MARKER``

materializes ``finks_dbt`` for the trading days START..END (one run, one ``dbt build``) with
``FINKS_DATA_DIR=DATA_DIR``. With STOP other than ``none`` it writes MARKER when it reaches that
moment and then sleeps, so a test can ``kill -9`` its process group (this process and dbt) at a
known point instead of after a guessed delay:

* ``first_model``: dbt has committed its first model (Dagster just received its event);
* ``mart``: dbt has committed ``gold.fct_daily_bars`` but the portfolio marts may not be built;
* ``before_publish``: dbt exited successfully, the copy is cleaned and checkpointed, and the
  rename that publishes it is next.

Only this test process is patched; the code under test is the production gold step.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg

from finks_assets.defs.gold import dbt_assets
from finks_assets.lib import warehouse_publish
from finks_assets.lib.resources.factory import build_resources
from finks_assets.lib.settings import FinksSettings

STOPS = ("none", "first_model", "mart", "before_publish")


def stop_here(marker: Path) -> None:
    marker.write_text("stopped")
    while True:  # until the test kills the process group
        time.sleep(60)


def stop_after_output(marker: Path, wanted: str | None) -> None:
    real = dbt_assets.publish_then_report

    def watched(context: dg.AssetExecutionContext, events: Iterable[Any], build: Any) -> Iterator[Any]:
        def tapped() -> Iterator[Any]:
            for event in events:
                yield event
                if isinstance(event, dg.Output) and (wanted is None or wanted in event.output_name):
                    stop_here(marker)

        return real(context, tapped(), build)

    dbt_assets.publish_then_report = watched


def stop_before_swap(marker: Path) -> None:
    def swap(work: Path, live: Path) -> None:
        stop_here(marker)

    warehouse_publish._swap = swap  # noqa: SLF001 - the one seam, named for this


def main(data_dir: str, start: str, end: str, stop: str, marker: str) -> int:
    if stop not in STOPS:
        raise SystemExit(f"STOP must be one of {STOPS}")
    if stop == "first_model":
        stop_after_output(Path(marker), None)
    elif stop == "mart":
        stop_after_output(Path(marker), "fct_daily_bars")
    elif stop == "before_publish":
        stop_before_swap(Path(marker))
    settings = FinksSettings.from_env({"FINKS_DATA_DIR": data_dir})
    result = dg.materialize(
        [dbt_assets.gold_dbt_assets()], resources=build_resources(settings),
        instance=dg.DagsterInstance.ephemeral(),
        tags={"dagster/asset_partition_range_start": start,
              "dagster/asset_partition_range_end": end},
        raise_on_error=False,
    )
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
