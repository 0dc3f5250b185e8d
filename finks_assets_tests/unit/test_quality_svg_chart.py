"""The worst-ticker SVG chart: well-formed markup whose shapes match the bars they draw.

Frames are built directly (no validation): the chart module must cope with whatever a day
holds, including tickers that need escaping, one bar, a flat price, no volume and NaNs.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from finks_assets.lib.quality.svg_chart import HEIGHT, WIDTH, worst_ticker_svg

NS = {"svg": "http://www.w3.org/2000/svg"}
DAY = dt.date(2025, 11, 25)
OPEN = pd.Timestamp("2025-11-25 14:30", tz="UTC")


def day_bars(ticker: str, n: int = 390, close=None, volume=None) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame({
        "ticker": ticker,
        "ts": pd.date_range(OPEN, periods=n, freq="1min"),
        "close": 100 + rng.normal(0, 1, n).cumsum() if close is None else close,
        "volume": rng.integers(0, 5000, n) if volume is None else volume,
    })


def no_quarantine() -> pd.DataFrame:
    return pd.DataFrame({"ticker": pd.Series(dtype=str), "ts": pd.Series(dtype="datetime64[us, UTC]"),
                         "close": pd.Series(dtype=float), "reason": pd.Series(dtype=str)})


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert (root.get("width"), root.get("height")) == (str(WIDTH), str(HEIGHT))
    assert root.get("viewBox") == f"0 0 {WIDTH} {HEIGHT}"
    return root


def polyline_points(root: ET.Element) -> np.ndarray:
    (line,) = root.findall("svg:polyline", NS)
    return np.array([[float(v) for v in p.split(",")] for p in line.get("points").split()])


def circles(root: ET.Element) -> list[ET.Element]:
    return [c for c in root.iter("{http://www.w3.org/2000/svg}circle")
            if c.get("fill") is None]  # the legend's marker carries its own fill


def inside_viewbox(xy: np.ndarray) -> bool:
    return bool(((xy[:, 0] >= 0) & (xy[:, 0] <= WIDTH) & (xy[:, 1] >= 0)
                 & (xy[:, 1] <= HEIGHT)).all())


def test_one_point_per_bar_with_a_close_all_inside_the_viewbox() -> None:
    bars = pd.concat([day_bars("MSFT"), day_bars("AAPL")])
    bars.loc[bars.index[[5, 17, 200]], "close"] = np.nan  # MSFT rows (first in the frame)
    root = parse(worst_ticker_svg(bars, no_quarantine(), "MSFT", DAY))
    points = polyline_points(root)
    assert len(points) == 390 - 3
    assert inside_viewbox(points)
    assert (np.diff(points[:, 0]) > 0).all()  # time runs left to right
    # the highest close is drawn highest (SVG y grows downwards)
    closes = bars[bars["ticker"] == "MSFT"]["close"].dropna().to_numpy()
    assert points[:, 1].argmin() == closes.argmax()
    volume_path = root.find("svg:path", NS).get("d")
    assert volume_path.count("M") == 390
    assert not circles(root)
    text = "".join(root.itertext())
    assert "MSFT on 2025-11-25 (worst ticker of the day)" in text
    assert "14:30" in text and "20:59" in text  # UTC clock labels at both ends
    assert "quarantined" not in text  # no legend entry without quarantined rows


def test_quarantined_rows_of_the_ticker_are_red_circles_at_their_close() -> None:
    bars = day_bars("JPM")
    quarantine = pd.DataFrame({
        "ticker": ["JPM", "JPM", "JPM", "XOM"],
        "ts": [OPEN + pd.Timedelta(minutes=m) for m in (10, 20, 30, 40)],
        "close": [bars["close"].max() + 5, bars["close"].min() - 5, np.nan, 50.0],
        "reason": ["ohlc_invariant", "negative_volume", "null_field", "ohlc_invariant"],
    })
    root = parse(worst_ticker_svg(bars, quarantine, "JPM", DAY))
    marks = circles(root)
    assert len(marks) == 2  # JPM's rows with a close; XOM's row is another ticker
    xy = np.array([[float(c.get("cx")), float(c.get("cy"))] for c in marks])
    assert inside_viewbox(np.vstack([xy, polyline_points(root)]))
    assert xy[0, 1] < polyline_points(root)[:, 1].min()  # above every close
    assert xy[1, 1] > polyline_points(root)[:, 1].max()  # below every close
    assert "quarantined" in "".join(root.itertext())


def test_every_text_is_escaped() -> None:
    ticker = 'A&B<script>"'
    root = parse(worst_ticker_svg(day_bars(ticker, n=30), no_quarantine(), ticker, DAY))
    assert root.find("svg:title", NS).text == f"{ticker} on 2025-11-25 (worst ticker of the day)"
    assert not root.findall(".//script")


@pytest.mark.parametrize(
    "bars",
    [
        day_bars("ONE", n=1),
        day_bars("FLAT", close=np.full(390, 42.0)),
        day_bars("QUIET", volume=np.zeros(390, dtype="int64")),
        day_bars("GAPS", close=np.full(390, np.nan)),
    ],
    ids=["single-bar", "constant-price", "zero-volume", "no-close"],
)
def test_degenerate_days_still_give_a_finite_chart(bars: pd.DataFrame) -> None:
    ticker = str(bars["ticker"].iloc[0])
    svg = worst_ticker_svg(bars, no_quarantine(), ticker, DAY)
    assert "nan" not in svg.lower() and "inf" not in svg.lower()
    root = parse(svg)
    lines = root.findall("svg:polyline", NS)
    closes = int(bars["close"].notna().sum())
    assert len(lines) == (1 if closes else 0)
    if closes:
        points = polyline_points(root)
        assert len(points) == closes and inside_viewbox(points)
    volume_tops = [float(v) for v in re.findall(r"V([-\d.]+)", root.find("svg:path", NS).get("d"))]
    assert len(volume_tops) == len(bars) and all(0 <= y <= HEIGHT for y in volume_tops)


def test_a_closed_market_day_with_only_quarantined_rows_draws_their_marks() -> None:
    quarantine = pd.DataFrame({"ticker": ["XOM"], "ts": [OPEN], "close": [99.5],
                               "reason": ["market_closed"]})
    root = parse(worst_ticker_svg(day_bars("XOM").iloc[0:0], quarantine, "XOM", DAY))
    assert not root.findall("svg:polyline", NS) and len(circles(root)) == 1


def test_building_a_report_with_its_chart_never_imports_a_plotting_library() -> None:
    """matplotlib left the runtime dependencies (the image has none): the gate must not need it."""
    code = (
        "import sys\n"
        "from finks_assets.lib.quality.suite import BAR_CHECKS, run_bar_checks\n"
        "from finks_assets.lib.quality.report import build_partition_reports, render_html\n"
        "from finks_assets.lib.quality.thresholds import BarQualityThresholds\n"
        "from finks_assets.lib.transforms.silver_bars import clean_bars\n"
        "from finks_assets_tests.unit.test_quality_corpus import DAY, HOLIDAY, build_corpus, history_counts\n"
        "result = clean_bars(build_corpus()[0], [DAY, HOLIDAY])\n"
        "outcomes = run_bar_checks(result.bars, [DAY, HOLIDAY], history_counts(), BarQualityThresholds())\n"
        "report = build_partition_reports([DAY], result.bars, result.quarantine, outcomes, BAR_CHECKS)[0]\n"
        "assert report.chart_svg and 'data:image/svg+xml' in render_html(report, 'silver/bars_1m')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'PIL')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
