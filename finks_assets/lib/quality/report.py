"""The validation report of one silver partition: an HTML page plus a Markdown summary.

The page lists every check with its severity and result for that trading day, the bar and
quarantine counts, quarantined rows by reason, the payload files rejected whole (path and
reason), the conflicting duplicates (a payload holding one bar twice with different values:
count and sample, discarded next to kept values), and a price/volume chart of the day's worst
ticker (the one with the most flagged or quarantined rows). The chart is SVG markup built
directly (``svg_chart``), embedded as a base64 ``data:`` image, so the report is one
self-contained file that opens from S3 or disk. It is not a matplotlib PNG because every
partition gets a chart and a year-long backfill writes hundreds: at ~0.2 s per chart
matplotlib was the quality gate's largest cost, the SVG costs about a millisecond.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from finks_assets.lib.frames import empty_frame
from finks_assets.lib.quality.check_base import CheckOutcome
from finks_assets.lib.quality.suite import BarCheck
from finks_assets.lib.quality.svg_chart import worst_ticker_svg
from finks_assets.lib.transforms.silver_bars import ConflictingDuplicates

if TYPE_CHECKING:
    import pandas as pd

OFFENDERS_PER_CHECK = 10


@dataclass
class CheckLine:
    name: str
    severity: str
    blocking: bool
    passed: bool
    failing_rows: int
    tickers: list[str]
    sample: pd.DataFrame


@dataclass
class PartitionReport:
    trade_date: dt.date
    bars: int
    tickers: int
    quarantined: dict[str, int]
    checks: list[CheckLine]
    worst_ticker: str | None
    chart_svg: str | None
    conflicting_duplicates: int = 0
    conflict_sample: pd.DataFrame = field(default_factory=empty_frame)
    rejected_files: pd.DataFrame = field(default_factory=empty_frame)  # path, reason, detail

    @property
    def failed_checks(self) -> list[str]:
        return [c.name for c in self.checks if not c.passed]

    @property
    def gate_passed(self) -> bool:
        return not any(c.blocking and not c.passed for c in self.checks)


def _split_by_day(frame: pd.DataFrame) -> dict[dt.date, pd.DataFrame]:
    """The frame's rows per trading day, grouped in one pass (not one filter per day)."""
    import pandas as pd
    if frame.empty or "trade_date" not in frame:
        return {}
    days = pd.to_datetime(frame["trade_date"]).dt.date
    return {day: group for day, group in frame.groupby(days, sort=False)}


def build_partition_reports(
    days: Sequence[dt.date],
    bars: pd.DataFrame,
    quarantine: pd.DataFrame,
    outcomes: Mapping[str, CheckOutcome],
    checks: Sequence[BarCheck],
    conflicts: ConflictingDuplicates | None = None,
    rejected_files: pd.DataFrame | None = None,
) -> list[PartitionReport]:
    """One report per day of a run's (possibly multi-day) silver result.

    Every frame is split by day once, so a single-run backfill of N days costs O(rows), not
    O(N x rows). ``conflicts`` and ``rejected_files`` are ``SilverResult``'s
    ``conflicting_duplicates`` and ``rejected_files``.
    """
    import pandas as pd
    conflicts = conflicts or ConflictingDuplicates()
    samples = _split_by_day(conflicts.sample)
    rejected = _split_by_day(rejected_files if rejected_files is not None else pd.DataFrame())
    bars_by_day = _split_by_day(bars)
    quarantine_by_day = _split_by_day(quarantine)
    offenders_by_check = {c.name: _split_by_day(outcomes[c.name].offenders) for c in checks}
    return [
        replace(
            _report_for_day(
                day,
                bars_by_day.get(day, bars.iloc[0:0]),
                quarantine_by_day.get(day, quarantine.iloc[0:0]),
                {name: by_day.get(day, outcomes[name].offenders.iloc[0:0])
                 for name, by_day in offenders_by_check.items()},
                checks,
            ),
            conflicting_duplicates=conflicts.counts.get(day, 0),
            conflict_sample=samples.get(day, pd.DataFrame()),
            rejected_files=rejected.get(day, pd.DataFrame()),
        )
        for day in days
    ]


def _report_for_day(
    day: dt.date,
    day_bars: pd.DataFrame,
    day_quarantine: pd.DataFrame,
    day_offenders: Mapping[str, pd.DataFrame],
    checks: Sequence[BarCheck],
) -> PartitionReport:
    import pandas as pd
    lines, blame = [], pd.Series(dtype="int64")
    for check in checks:
        offenders = day_offenders[check.name]
        rows = len(offenders) if check.name != "intraday_gaps" else int(
            offenders["missing_minutes"].sum() if len(offenders) else 0)
        lines.append(CheckLine(
            name=check.name, severity=check.severity.value, blocking=check.blocking,
            passed=rows == 0, failing_rows=rows,
            tickers=sorted(offenders["ticker"].astype(str).unique()) if len(offenders) else [],
            sample=offenders.head(OFFENDERS_PER_CHECK),
        ))
        if len(offenders):
            weights = (offenders["missing_minutes"] if check.name == "intraday_gaps"
                       else pd.Series(1, index=offenders.index))
            per_ticker = weights.groupby(offenders["ticker"].astype(str)).sum()
            blame = blame.add(per_ticker, fill_value=0)
    if len(day_quarantine):
        blame = blame.add(day_quarantine["ticker"].astype(str).value_counts(), fill_value=0)
    worst = str(blame.sort_values(ascending=False, kind="stable").index[0]) if len(blame) else None
    if worst is None and len(day_bars):
        worst = str(day_bars["ticker"].iloc[0])
    chart = worst_ticker_svg(day_bars, day_quarantine, worst, day) if worst else None
    return PartitionReport(
        trade_date=day, bars=len(day_bars), tickers=int(day_bars["ticker"].nunique()),
        quarantined={str(k): int(v) for k, v in
                     day_quarantine["reason"].value_counts().sort_index().items()}
        if len(day_quarantine) else {},
        checks=lines, worst_ticker=worst, chart_svg=chart,
    )


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}
.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}.warn{color:#9a6700;font-weight:600}
"""


def _status(line: CheckLine) -> str:
    if line.passed:
        return '<span class="pass">PASS</span>'
    return '<span class="fail">FAIL</span>' if line.blocking else '<span class="warn">WARN</span>'


def render_html(report: PartitionReport, dataset: str) -> str:
    """The self-contained HTML page (every value escaped; the chart inlined as base64)."""
    e = html.escape
    day = report.trade_date.isoformat()
    rows = "".join(
        f"<tr><td>{e(c.name)}</td><td>{e(c.severity)}{' (blocking)' if c.blocking else ''}</td>"
        f"<td>{_status(c)}</td><td>{c.failing_rows}</td><td>{e(', '.join(c.tickers[:20]))}</td></tr>"
        for c in report.checks
    )
    details = "".join(
        f"<h3>{e(c.name)}</h3>{c.sample.astype(str).to_html(index=False, escape=True)}"
        for c in report.checks if not c.passed
    )
    quarantine = "".join(
        f"<tr><td>{e(reason)}</td><td>{n}</td></tr>" for reason, n in report.quarantined.items()
    ) or "<tr><td colspan=2>none</td></tr>"
    chart = (
        f'<img id="worst-ticker-chart" alt="price and volume of {e(report.worst_ticker or "")}" '
        f'src="data:image/svg+xml;base64,{base64.b64encode(report.chart_svg.encode()).decode()}">'
        if report.chart_svg else "<p>No bars on this day (market closed or nothing delivered).</p>"
    )
    gate = "passed" if report.gate_passed else "FAILED: gold is not built for this day"
    rejected = (
        _table(report.rejected_files[["path", "reason", "detail"]])
        if len(report.rejected_files) else "<p>none</p>"
    )
    conflicts = (
        f"<p>{report.conflicting_duplicates} row(s) replaced by a later row of the same payload"
        f" with different values (the later row wins); sample, discarded values then kept:</p>"
        f"{_table(report.conflict_sample.drop(columns=['trade_date'], errors='ignore'))}"
        if report.conflicting_duplicates else "<p>none</p>"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Finks {e(dataset)} {day}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>Validation report: {e(dataset)}, trade_date={day}</h1>"
        f"<p>Quality gate: <b>{gate}</b>. {report.bars} bars, {report.tickers} tickers, "
        f"{sum(report.quarantined.values())} quarantined.</p>"
        f"<h2>Checks</h2><table><tr><th>check</th><th>severity</th><th>result</th>"
        f"<th>offending rows</th><th>tickers</th></tr>{rows}</table>"
        f"<h2>Quarantined rows by reason</h2><table><tr><th>reason</th><th>rows</th></tr>"
        f"{quarantine}</table>"
        f"<h2>Rejected files</h2>{rejected}"
        f"<h2>Conflicting duplicates</h2>{conflicts}"
        f"<h2>Worst ticker</h2>{chart}"
        f"<h2>Offenders</h2>{details or '<p>none</p>'}</body></html>"
    )


def _table(frame: pd.DataFrame) -> str:
    """An escaped HTML table (file paths and vendor values are untrusted text)."""
    return frame.astype(str).to_html(index=False, escape=True)
