"""A backfill driven as the UI drives it (issue 13's acceptance test).

``dagster dev`` (webserver, daemon, code server) runs on a temporary instance with the repo's
``dagster.yaml``, against ``leaky_location`` (the real definitions with one trading day planted
bad). The test then sends the webserver the GraphQL the UI sends:

1. ``launchPartitionBackfill``: an asset backfill of bronze -> silver -> gold, 20 tickers x 63
   sessions. The bad day fails a blocking silver check, so it is held: 62 days of gold are
   built, the day is shown failed, and no job other than the backfill's runs is involved.
2. ``reexecutePartitionBackfill`` (FROM_FAILURE, the backfill page's "Re-execute from
   failure") after the fault is removed: the day completes and gold holds all 63 days.
3. A backfill "by ticker", as the launchpad sends it (run config naming one ticker): the new
   bronze fetch holds only that ticker, and silver keeps every ticker of those days.

Each phase is run once by a module fixture and snapshotted, so the tests only read snapshots
and pass or fail independently of their order.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from finks_assets.lib import market_calendar
from finks_assets.lib.dbt.project import DBT_PROJECT_DIR
from finks_assets_tests.support.dagster_dev import DagsterDev, dagster_dev, write_workspace
from finks_assets_tests.support.processes import REPO

# leaky_location's settings (not imported: importing it would patch silver in this process too).
LOCATION_MODULE = "finks_assets_tests.integration.leaky_location"
BAD_DAY_VAR, MARKER_VAR = "FINKS_TEST_BAD_DAY", "FINKS_TEST_LEAK_MARKER"
UNIVERSE = (
    "AAPL", "MSFT", "AMZN", "GOOGL", "META", "NVDA", "TSLA", "JPM", "XOM", "JNJ",
    "SPY", "V", "WMT", "PG", "UNH", "HD", "BAC", "KO", "PEP", "CSCO",
)
# 63 consecutive XNYS sessions, 2025-08-01..2025-10-29. Labor Day falls inside; it is not a
# partition, so the 63 are 63 consecutive partitions and Dagster cuts them into three runs of
# exactly FINKS_PARTITIONS_PER_RUN = 21 days.
LAST_SESSION = dt.date(2025, 10, 29)
SESSIONS = [s.date for s in market_calendar.sessions_between(
    LAST_SESSION - dt.timedelta(days=120), LAST_SESSION)][-63:]
BAD_DAY = SESSIONS[31]  # 2025-09-16, in the middle run
TICKER_DAYS = SESSIONS[-3:]
TICKER = "MSFT"
PARTITIONS_PER_RUN = 21
BACKFILL_TIMEOUT_S = 1800  # generous: the 2 cores are often shared with other work
TERMINAL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
BACKFILL_TAG = "dagster/backfill"
# The one sensor that launches runs on its own: it evaluates the freshness checks (no asset).
FRESHNESS_SENSOR = "freshness_checks_sensor"
BRONZE, SILVER, QUARANTINE = "bronze/bars_1m", "silver/bars_1m", "silver/bars_1m_quarantine"
GOLD_BARS = "gold/fct_daily_bars"

pytestmark = [
    pytest.mark.skipif(
        not (DBT_PROJECT_DIR / "target" / "manifest.json").exists(),
        reason="dbt manifest missing: run `make manifest` (make test does it first)",
    ),
    # Per test, fixture setup included: the first test starts dagster dev and waits for the
    # 63-day backfill (pyproject's 600 s default is too short on a busy 2-core machine).
    pytest.mark.timeout(2 * BACKFILL_TIMEOUT_S),
]

ASSET_NODES = "{ assetNodes { assetKey { path } dependencyKeys { path } isPartitioned } }"
# The UI's LAUNCH_PARTITION_BACKFILL_MUTATION and REEXECUTE_BACKFILL_MUTATION, trimmed.
LAUNCH = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""
REEXECUTE = """
mutation reexecuteBackfill($reexecutionParams: ReexecutionParams!) {
  reexecutePartitionBackfill(reexecutionParams: $reexecutionParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""
BACKFILL = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      status
      error { message }
      assetBackfillData { assetBackfillStatuses {
        ... on AssetPartitionsStatusCounts { assetKey { path } numPartitionsTargeted
          numPartitionsInProgress numPartitionsMaterialized numPartitionsFailed } } }
    }
    ... on Error { message }
  }
}
"""
TARGETED = """
query Targeted($id: String!, $key: AssetKeyInput!) {
  partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill { partitionsTargetedForAssetKey(assetKey: $key) {
      ranges { start end } partitionKeys } }
  }
}
"""
RUNS = """
{ runsOrError { __typename ... on Runs { results {
    runId jobName status tags { key value } assetSelection { path } } } } }
"""
PARTITION_STATUS = """
query Status($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) { ... on AssetNode { assetPartitionStatuses {
    __typename ... on TimePartitionStatuses { ranges { status startKey endKey } } } } }
}
"""


def _key(path: str) -> dict:
    return {"path": path.split("/")}


@dataclass
class Lab:
    """The running ``dagster dev`` and the files the test looks at."""

    server: DagsterDev
    data_dir: Path
    marker: Path
    selection: list[str]

    @property
    def lake(self) -> Path:
        return self.data_dir / "lake"


@dataclass
class BackfillResult:
    backfill_id: str
    status: str
    counts: dict[str, dict[str, int]]  # asset key -> {targeted, in_progress, materialized, failed}
    runs: list[dict]  # every run of the instance when the backfill ended
    seconds: float
    gold_days: list[dt.date] = field(default_factory=list)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with tempfile.TemporaryDirectory(prefix="finks-backfill-ui-") as tmp:
        root = Path(tmp)
        home = root / "dagster_home"
        home.mkdir()
        shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
        with (home / "dagster.yaml").open("a") as instance_yaml:
            # Loading the location may run `dbt parse` (a stale manifest under dagster dev);
            # on a busy 2-core machine that outlasts the default 180 s code server start-up.
            instance_yaml.write("\ncode_servers:\n  local_startup_timeout: 600\n")
        marker = root / "leak_marker"
        marker.touch()
        workspace = write_workspace(root / "workspace.yaml", LOCATION_MODULE)
        env = {
            "FINKS_ENV": "local",
            "FINKS_DATA_DIR": str(root / "finks"),
            "FINKS_SOURCE": "synthetic",
            "FINKS_UNIVERSE": ",".join(UNIVERSE),
            "FINKS_PARTITIONS_PER_RUN": str(PARTITIONS_PER_RUN),
            BAD_DAY_VAR: BAD_DAY.isoformat(),
            MARKER_VAR: str(marker),
        }
        with dagster_dev(workspace, home, env) as server:
            yield Lab(server, root / "finks", marker, _ui_selection(server))


def _ui_selection(server: DagsterDev) -> list[str]:
    """What a user selects in the asset graph: bronze/bars_1m and everything downstream of it
    (silver, its quarantine, the dbt staging, intermediate and gold models). Not the portfolio
    holdings seed the marts also read: it is unpartitioned reference data, and the first gold
    run seeds the fresh warehouse."""
    nodes = server.graphql(ASSET_NODES)["assetNodes"]
    parents = {"/".join(n["assetKey"]["path"]): {"/".join(d["path"]) for d in n["dependencyKeys"]}
               for n in nodes}
    selected, changed = {BRONZE}, True
    while changed:
        downstream = {k for k, ps in parents.items() if ps & selected} - selected
        changed = bool(downstream)
        selected |= downstream
    return sorted(selected)


def _launch(lab: Lab, assets: list[str], days: list[dt.date], run_config_yaml: str | None = None,
            ) -> str:
    """Exactly the parameters of the UI's "Launch backfill" for a pure asset selection."""
    params = {
        "tags": [{"key": "dagster/from_ui", "value": "true"}],
        "assetSelection": [_key(a) for a in assets],
        "partitionNames": [d.isoformat() for d in days],
        "fromFailure": False,
        "runConfigData": run_config_yaml,
    }
    answer = lab.server.graphql(LAUNCH, {"backfillParams": params})["launchPartitionBackfill"]
    assert answer["__typename"] == "LaunchBackfillSuccess", answer
    return answer["backfillId"]


def _reexecute_from_failure(lab: Lab, backfill_id: str) -> str:
    """The backfill page's "Re-execute from failure" (``launchPartitionBackfill`` with
    ``fromFailure`` is refused for pure asset backfills). No code reload is needed: the
    planted fault checks its marker file at call time."""
    params = {"parentRunId": backfill_id, "strategy": "FROM_FAILURE"}
    answer = lab.server.graphql(REEXECUTE, {"reexecutionParams": params})
    answer = answer["reexecutePartitionBackfill"]
    assert answer["__typename"] == "LaunchBackfillSuccess", answer
    return answer["backfillId"]


def _wait(lab: Lab, backfill_id: str, started: float) -> BackfillResult:
    """Poll the backfill as its page does until it ends; snapshot its status and the runs."""
    deadline = started + BACKFILL_TIMEOUT_S
    while True:
        try:
            backfill = lab.server.graphql(BACKFILL, {"id": backfill_id})
        except OSError:  # a slow answer while the 2 cores are saturated: ask again
            backfill = None
        if backfill is not None:
            backfill = backfill["partitionBackfillOrError"]
            assert backfill["__typename"] == "PartitionBackfill", backfill
            if backfill["status"] in TERMINAL:
                break
        assert time.monotonic() < deadline, (
            f"backfill {backfill_id} not finished after {BACKFILL_TIMEOUT_S} s:\n"
            f"{lab.server.log_tail()}")
        time.sleep(5)
    counts = {
        "/".join(s["assetKey"]["path"]): {
            "targeted": s["numPartitionsTargeted"], "in_progress": s["numPartitionsInProgress"],
            "materialized": s["numPartitionsMaterialized"], "failed": s["numPartitionsFailed"]}
        for s in backfill["assetBackfillData"]["assetBackfillStatuses"]
    }
    runs = lab.server.graphql(RUNS)["runsOrError"]["results"]
    return BackfillResult(backfill_id, backfill["status"], counts, runs,
                          time.monotonic() - started, _gold_days(lab))


def _gold_days(lab: Lab) -> list[dt.date]:
    path = lab.data_dir / "warehouse.duckdb"
    if not path.exists():
        return []
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "select distinct trade_date from gold.fct_daily_bars order by trade_date").fetchall()
    return [r[0] for r in rows]


def _tags(run: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["tags"]}


def _runs_of(result: BackfillResult, backfill_id: str) -> list[dict]:
    return [r for r in result.runs if _tags(r).get(BACKFILL_TAG) == backfill_id]


def _other_runs(result: BackfillResult, backfill_ids: set[str]) -> list[dict]:
    """Runs that are not runs of ``backfill_ids``, minus the freshness sensor's check-only runs
    (they evaluate checks and materialize nothing)."""
    return [r for r in result.runs
            if _tags(r).get(BACKFILL_TAG) not in backfill_ids
            and not (_tags(r).get("dagster/sensor_name") == FRESHNESS_SENSOR
                     and not r["assetSelection"])]


def _silver_tickers(lab: Lab, day: dt.date) -> dict[str, int]:
    """Rows per ticker in silver's partition of ``day`` (empty when it was never written)."""
    directory = lab.lake / "silver" / "bars_1m" / f"trade_date={day.isoformat()}"
    if not directory.exists():
        return {}
    frame = pq.read_table(directory).to_pandas()
    return {str(k): int(v) for k, v in frame["ticker"].value_counts().items()}


def _bronze_files(lab: Lab, day: dt.date) -> set[Path]:
    directory = (lab.lake / "bronze" / "source=synthetic" / "dataset=bars_1m"
                 / f"trade_date={day.isoformat()}")
    return set(directory.glob("*.parquet"))


@dataclass
class First:
    result: BackfillResult
    silver: dict[dt.date, dict[str, int]]  # rows per ticker of each session's silver partition
    silver_failed: list[tuple[str, str]]  # the FAILED ranges of silver's partition status


@pytest.fixture(scope="module")
def first(lab: Lab) -> First:
    """The 63-session backfill with the bad day planted."""
    started = time.monotonic()
    backfill_id = _launch(lab, lab.selection, SESSIONS)
    result = _wait(lab, backfill_id, started)
    print(f"\nfirst backfill: {result.status} in {result.seconds:.0f} s, "
          f"{len(_runs_of(result, backfill_id))} runs")
    answer = lab.server.graphql(PARTITION_STATUS, {"key": _key(SILVER)})
    ranges = answer["assetNodeOrError"]["assetPartitionStatuses"]["ranges"]
    failed = [(r["startKey"], r["endKey"]) for r in ranges if r["status"] == "FAILED"]
    return First(result, {d: _silver_tickers(lab, d) for d in SESSIONS}, failed)


@dataclass
class Repair:
    result: BackfillResult
    targeted: dict[str, list[str]]  # asset key -> partition keys the re-execution targeted
    bad_day_silver: dict[str, int]


@pytest.fixture(scope="module")
def repaired(lab: Lab, first: First) -> Repair:
    """Remove the planted fault, then "Re-execute from failure" on the first backfill."""
    lab.marker.unlink()
    started = time.monotonic()
    backfill_id = _reexecute_from_failure(lab, first.result.backfill_id)
    result = _wait(lab, backfill_id, started)
    print(f"\nre-execution from failure: {result.status} in {result.seconds:.0f} s")
    targeted = {}
    for asset in (SILVER, GOLD_BARS, BRONZE):
        answer = lab.server.graphql(TARGETED, {"id": backfill_id, "key": _key(asset)})
        partitions = answer["partitionBackfillOrError"]["partitionsTargetedForAssetKey"]
        keys: list[str] = []
        for span in (partitions or {}).get("ranges") or []:
            keys += [d.isoformat() for d in _weekdays(span["start"], span["end"])]
        targeted[asset] = keys + list((partitions or {}).get("partitionKeys") or [])
    return Repair(result, targeted, _silver_tickers(lab, BAD_DAY))


def _weekdays(start: str, end: str) -> list[dt.date]:
    """The partitions of a range: its sessions (holidays are not partitions)."""
    sessions = market_calendar.sessions_between(
        dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    return [s.date for s in sessions]


@dataclass
class ByTicker:
    result: BackfillResult
    silver_before: dict[dt.date, dict[str, int]]
    silver_after: dict[dt.date, dict[str, int]]
    new_bronze: dict[dt.date, list[set[str]]]  # day -> the tickers of each new bronze file


@pytest.fixture(scope="module")
def by_ticker(lab: Lab, first: First) -> ByTicker:
    """Three sessions re-fetched for one ticker, with the run config the launchpad sends."""
    before_files = {d: _bronze_files(lab, d) for d in TICKER_DAYS}
    silver_before = {d: _silver_tickers(lab, d) for d in TICKER_DAYS}
    started = time.monotonic()
    run_config = f"ops:\n  bronze__bars_1m:\n    config:\n      refetch: true\n      tickers:\n        - {TICKER}\n"
    backfill_id = _launch(lab, [BRONZE, SILVER, QUARANTINE], TICKER_DAYS, run_config)
    result = _wait(lab, backfill_id, started)
    print(f"\nbackfill by ticker: {result.status} in {result.seconds:.0f} s")
    new_bronze = {
        d: [set(pq.read_table(f, columns=["_ticker"]).column(0).unique().to_pylist())
            for f in sorted(_bronze_files(lab, d) - before_files[d])]
        for d in TICKER_DAYS
    }
    return ByTicker(result, silver_before, {d: _silver_tickers(lab, d) for d in TICKER_DAYS},
                    new_bronze)


def test_selection_is_bronze_to_gold(lab: Lab) -> None:
    assert {BRONZE, SILVER, QUARANTINE, GOLD_BARS, "gold/fct_daily_features",
            "gold/daily_portfolio_summary"} <= set(lab.selection)
    assert not any(a.startswith(("bronze/fmp", "silver/fmp", "silver/bars_1d"))
                   for a in lab.selection), lab.selection


def test_backfill_builds_62_days_of_gold_and_holds_the_bad_day(lab: Lab, first: First) -> None:
    result = first.result
    assert result.status == "COMPLETED_FAILED", (result.status, lab.server.log_tail())
    assert result.gold_days == [d for d in SESSIONS if d != BAD_DAY]
    # Held: nothing of the bad day reached silver; every other day holds every ticker.
    assert first.silver[BAD_DAY] == {}
    assert all(set(first.silver[d]) == set(UNIVERSE) for d in SESSIONS if d != BAD_DAY)
    # The backfill page: each asset's 63 partitions accounted for; the bad day is failed in
    # silver and (as the downstream of a failed partition) in gold, never in bronze.
    for asset in lab.selection:
        assert result.counts[asset]["targeted"] == len(SESSIONS), (asset, result.counts[asset])
        assert result.counts[asset]["in_progress"] == 0, (asset, result.counts[asset])
    assert result.counts[BRONZE]["materialized"] == 63, result.counts[BRONZE]
    assert result.counts[BRONZE]["failed"] == 0, result.counts[BRONZE]
    for asset in (SILVER, QUARANTINE, GOLD_BARS):
        assert result.counts[asset]["materialized"] == 62, (asset, result.counts[asset])
        assert result.counts[asset]["failed"] == 1, (asset, result.counts[asset])


def test_bad_day_is_shown_failed_on_the_silver_asset(first: First) -> None:
    assert first.silver_failed == [(BAD_DAY.isoformat(), BAD_DAY.isoformat())]


def test_gold_of_the_bad_day_was_never_requested(first: First) -> None:
    gold_runs = [r for r in _runs_of(first.result, first.result.backfill_id)
                 if any("/".join(a["path"]) == GOLD_BARS for a in r["assetSelection"] or [])]
    assert gold_runs, "no run built gold"
    for run in gold_runs:
        tags = _tags(run)
        start = tags.get("dagster/asset_partition_range_start") or tags["dagster/partition"]
        end = tags.get("dagster/asset_partition_range_end") or tags["dagster/partition"]
        assert not start <= BAD_DAY.isoformat() <= end, (start, end)
        assert run["status"] == "SUCCESS", run


def test_each_gold_run_builds_the_portfolio_marts_too(first: First) -> None:
    """The marts join fct_daily_bars' run: no gold run builds them (or the bars) alone. (With
    the seed they read as a partitioned root, they waited for a second gold run of their own.)
    The number of gold runs is not fixed: a daemon tick that lands while a bronze+silver run is
    still recording its days requests gold for the days recorded so far."""
    runs = _runs_of(first.result, first.result.backfill_id)
    gold_runs = [assets for assets in ({"/".join(a["path"]) for a in r["assetSelection"] or []}
                                       for r in runs) if any(a.startswith("gold/") for a in assets)]
    assert gold_runs
    for assets in gold_runs:
        assert {GOLD_BARS, "gold/fct_portfolio_positions",
                "gold/daily_portfolio_summary"} <= assets, assets


def test_no_follow_up_job_is_involved(first: First) -> None:
    """Every run that materialized anything is one of the backfill's runs, on the asset job."""
    runs = _runs_of(first.result, first.result.backfill_id)
    assert runs
    assert _other_runs(first.result, {first.result.backfill_id}) == []
    assert {r["jobName"] for r in first.result.runs} == {"__ASSET_JOB"}
    # The bad day's bronze+silver run is the only one that failed.
    failed = [r for r in runs if r["status"] == "FAILURE"]
    assert len(failed) == 1, failed
    tags = _tags(failed[0])
    assert (tags["dagster/asset_partition_range_start"] <= BAD_DAY.isoformat()
            <= tags["dagster/asset_partition_range_end"]), tags


def test_bronze_and_silver_runs_cover_at_most_partitions_per_run_days(first: First) -> None:
    for run in _runs_of(first.result, first.result.backfill_id):
        if not any("/".join(a["path"]) == SILVER for a in run["assetSelection"] or []):
            continue
        tags = _tags(run)
        days = _weekdays(tags["dagster/asset_partition_range_start"],
                         tags["dagster/asset_partition_range_end"])
        assert len(days) <= PARTITIONS_PER_RUN, tags


def test_reexecution_after_the_fix_completes_the_backfill(lab: Lab, repaired: Repair) -> None:
    result = repaired.result
    assert result.status == "COMPLETED_SUCCESS", (result.status, lab.server.log_tail())
    assert result.gold_days == SESSIONS
    assert set(repaired.bad_day_silver) == set(UNIVERSE)
    # Only what was missing was re-run: the bad day's silver and gold, not bronze.
    assert repaired.targeted[SILVER] == [BAD_DAY.isoformat()], repaired.targeted
    assert repaired.targeted[GOLD_BARS] == [BAD_DAY.isoformat()], repaired.targeted
    assert repaired.targeted[BRONZE] == [], repaired.targeted
    runs = _runs_of(result, result.backfill_id)
    assert runs and all(r["status"] == "SUCCESS" for r in runs), runs
    # Still no follow-up job: every run that materialized anything belongs to a backfill.
    backfills = {_tags(r)[BACKFILL_TAG] for r in result.runs if BACKFILL_TAG in _tags(r)}
    assert _other_runs(result, backfills) == []
    assert {r["jobName"] for r in result.runs} == {"__ASSET_JOB"}


def test_backfill_by_ticker_merges_into_silver(lab: Lab, by_ticker: ByTicker) -> None:
    assert by_ticker.result.status == "COMPLETED_SUCCESS", (
        by_ticker.result.status, lab.server.log_tail())
    for day in TICKER_DAYS:
        assert by_ticker.new_bronze[day] == [{TICKER}], (day, by_ticker.new_bronze[day])
        assert set(by_ticker.silver_before[day]) == set(UNIVERSE)
        assert by_ticker.silver_after[day] == by_ticker.silver_before[day], day
    runs = _runs_of(by_ticker.result, by_ticker.result.backfill_id)
    assert runs and all(r["status"] == "SUCCESS" for r in runs), runs
