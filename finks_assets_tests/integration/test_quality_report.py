"""The validation report: HTML with every check, counts, quarantine and a real chart.

The page is written through the LakeWriter and opened in headless Chromium, which must decode
the embedded SVG chart (a ``data:image/svg+xml`` image with naturalWidth > 0).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from finks_assets.lib.lake.store import LakeStore
from finks_assets.lib.lake.writer import LakeWriter
from finks_assets.lib.quality.report import build_partition_reports, render_html
from finks_assets.lib.quality.silver_gate import report_relative_path
from finks_assets.lib.quality.suite import BAR_CHECKS, run_bar_checks
from finks_assets.lib.quality.svg_chart import WIDTH
from finks_assets.lib.quality.thresholds import BarQualityThresholds
from finks_assets.lib.transforms.silver_bars import clean_bars
from finks_assets_tests.browser import browser_page
from finks_assets_tests.unit.test_quality_corpus import DAY, HOLIDAY, build_corpus, history_counts


def corpus_report(tmp_path: Path):
    corpus, _ = build_corpus()
    result = clean_bars(corpus, [DAY, HOLIDAY])
    outcomes = run_bar_checks(result.bars, [DAY, HOLIDAY], history_counts(), BarQualityThresholds())
    report = build_partition_reports([DAY], result.bars, result.quarantine, outcomes, BAR_CHECKS)[0]
    store = LakeStore.local(str(tmp_path / "lake"))
    relative = report_relative_path("silver", "bars_1m", DAY.isoformat())
    path = LakeWriter(store).write_text(relative, render_html(report, "silver/bars_1m"))
    return report, Path(path)


def test_report_names_the_worst_ticker_and_every_check(tmp_path: Path) -> None:
    report, path = corpus_report(tmp_path)
    assert path == tmp_path / "lake/reports/silver/bars_1m/trade_date=2025-11-25/report.html"
    assert report.worst_ticker == "JPM"  # 290 missing minutes + a row-count anomaly
    assert report.quarantined == {
        "misaligned_minute": 1, "negative_volume": 1, "non_positive_price": 1,
        "null_field": 1, "ohlc_invariant": 1, "out_of_session": 1, "bad_print": 1,
    }
    assert report.gate_passed
    assert set(report.failed_checks) == {"intraday_gaps", "stale_prices", "row_count_anomaly"}
    assert report.chart_svg and report.chart_svg.startswith("<svg ")
    assert "JPM on 2025-11-25 (worst ticker of the day)" in report.chart_svg
    text = path.read_text()
    assert 'id="worst-ticker-chart"' in text and 'src="data:image/svg+xml;base64,' in text
    for check in BAR_CHECKS:
        assert check.name in text
    assert not list(path.parent.glob(".tmp-*"))  # written atomically
    assert (report.bars, sum(report.quarantined.values())) == (1649, 7)


def test_holiday_report_says_market_closed(tmp_path: Path) -> None:
    corpus, _ = build_corpus()
    result = clean_bars(corpus, [DAY, HOLIDAY])
    outcomes = run_bar_checks(result.bars, [DAY, HOLIDAY], history_counts(), BarQualityThresholds())
    report = build_partition_reports([HOLIDAY], result.bars, result.quarantine, outcomes, BAR_CHECKS)[0]
    assert report.bars == 0 and report.quarantined == {"market_closed": 1}
    assert report.worst_ticker == "XOM" and report.chart_svg is not None


def test_report_opens_in_chromium_with_a_rendered_chart(tmp_path: Path) -> None:
    _, path = corpus_report(tmp_path)
    with browser_page() as page:
        page.goto(path.as_uri())
        assert "Validation report" in page.title() or "Finks" in page.title()
        chart = page.locator("#worst-ticker-chart")
        chart.wait_for()
        width = page.evaluate(
            "() => { const i = document.getElementById('worst-ticker-chart');"
            " return i.complete ? i.naturalWidth : 0; }"
        )
        assert width == WIDTH  # the <svg> root's own width: the browser decoded it
        rows = page.locator("table").first.locator("tr").count()
        assert rows == 1 + len(BAR_CHECKS)
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 0
    assert dt.date(2025, 11, 25).isoformat() in path.read_text()
