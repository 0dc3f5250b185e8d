"""The validation report's "worst ticker of the day" chart, written directly as SVG markup.

Why not matplotlib: every partition report carries a chart, and a single-run backfill of a
year writes ~250 of them. matplotlib cost ~0.2 s per chart (figure set-up, date formatting,
PNG rendering in ``savefig``), which made charts the quality gate's largest cost: ~14 s of a
51 s 63-day run, a minute at a year. The chart here is a polyline, one path and a few labels,
so it is built as text in a few milliseconds: every coordinate is scaled and formatted with
NumPy in one vectorised pass (no Python loop per bar; a day has ~390), and every text is
passed through ``html.escape`` because tickers and labels end up inside markup.

The ``<svg>`` root has explicit ``width``/``height`` and the SVG namespace so that, embedded
as a ``data:image/svg+xml`` ``<img>``, browsers give it an intrinsic size (``naturalWidth``).
"""

from __future__ import annotations

import datetime as dt
import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


WIDTH, HEIGHT = 800, 400
LEFT, RIGHT, TOP, BOTTOM = 78, 16, 34, 34
PANEL_GAP = 10
PRICE_SHARE = 0.75  # the price panel's share of the plot height; volume gets the rest
TIME_LABELS = 5
LINE_COLOR, VOLUME_COLOR, QUARANTINE_COLOR = "#1f77b4", "#7f7f7f", "#d62728"

_PLOT_HEIGHT = HEIGHT - TOP - BOTTOM - PANEL_GAP
PRICE_TOP, PRICE_BOTTOM = TOP, TOP + _PLOT_HEIGHT * PRICE_SHARE
VOLUME_TOP, VOLUME_BOTTOM = PRICE_BOTTOM + PANEL_GAP, HEIGHT - BOTTOM
PLOT_LEFT, PLOT_RIGHT = LEFT, WIDTH - RIGHT


def _epoch_seconds(ts: pd.Series) -> np.ndarray:
    """Seconds since the epoch (UTC) as floats, NaN for missing times, whatever the unit."""
    import numpy as np
    import pandas as pd
    stamps = pd.DatetimeIndex(pd.to_datetime(ts, utc=True)).tz_convert(None)
    ns = stamps.to_numpy(dtype="datetime64[ns]")
    return np.where(np.isnat(ns), np.nan, ns.astype("int64") / 1e9)


def _floats(values: pd.Series) -> np.ndarray:
    import numpy as np
    import pandas as pd
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _domain(values: np.ndarray) -> tuple[float, float]:
    """Min/max of the finite values, widened when flat (one bar, constant price) or empty."""
    import numpy as np
    finite = values[np.isfinite(values)]
    if not finite.size:
        return 0.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    if high == low:
        pad = max(abs(low) * 0.01, 0.5)
        return low - pad, high + pad
    return low, high


def _scale(values: np.ndarray, domain: tuple[float, float], start: float, end: float) -> np.ndarray:
    """Maps ``domain`` linearly onto [start, end] (end may be above start: SVG's y goes down)."""
    low, high = domain
    return start + (values - low) / (high - low) * (end - start)


def _fmt(values: np.ndarray) -> np.ndarray:
    import numpy as np
    return np.char.mod("%.1f", values)


def _pairs(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    import numpy as np
    return np.char.add(np.char.add(_fmt(xs), ","), _fmt(ys))


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = 11,
          extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{extra}>'
            f"{html.escape(text)}</text>")


def worst_ticker_svg(bars: pd.DataFrame, quarantine: pd.DataFrame, ticker: str,
                     day: dt.date) -> str:
    """Close price (line, top 3/4) over volume (bottom 1/4) of ``ticker`` on ``day``.

    ``bars`` and ``quarantine`` may hold other tickers (they are filtered here); the
    ticker's quarantined rows are red circles at their close. Bars with a missing close are
    left out of the line (and their volume still drawn); quarantined rows without a close
    or time are not drawn.
    """
    import numpy as np
    # Only the drawn columns are copied out of the (wide, all-ticker) day frames.
    own = (bars.loc[bars["ticker"].astype(str) == ticker, ["ts", "close", "volume"]]
           .sort_values("ts") if len(bars) else bars)
    bad = (quarantine.loc[quarantine["ticker"].astype(str) == ticker, ["ts", "close"]]
           if len(quarantine) else quarantine.iloc[0:0])

    t = _epoch_seconds(own["ts"]) if len(own) else np.empty(0)
    close = _floats(own["close"]) if len(own) else np.empty(0)
    volume = np.nan_to_num(_floats(own["volume"]), nan=0.0) if len(own) else np.empty(0)
    bad_t = _epoch_seconds(bad["ts"]) if len(bad) else np.empty(0)
    bad_close = _floats(bad["close"]) if len(bad) else np.empty(0)

    line = np.isfinite(t) & np.isfinite(close)
    marks = np.isfinite(bad_t) & np.isfinite(bad_close)
    timed = np.isfinite(t)
    time_domain = _domain(np.concatenate([t[timed], bad_t[marks]]))
    price_domain = _domain(np.concatenate([close[line], bad_close[marks]]))
    volume_max = float(max(volume[timed].max(initial=0.0), 0.0))

    def x_of(seconds: np.ndarray) -> np.ndarray:
        return _scale(seconds, time_domain, PLOT_LEFT, PLOT_RIGHT)

    def price_y(prices: np.ndarray) -> np.ndarray:
        return _scale(prices, price_domain, PRICE_BOTTOM, PRICE_TOP)

    points = " ".join(_pairs(x_of(t[line]), price_y(close[line])))
    volume_y = VOLUME_BOTTOM - np.clip(volume[timed], 0.0, None) / max(volume_max, 1.0) * (
        VOLUME_BOTTOM - VOLUME_TOP)
    volume_path = "".join(np.char.add(
        np.char.add(np.char.add("M", _fmt(x_of(t[timed]))), f" {VOLUME_BOTTOM:.1f}V"),
        _fmt(volume_y)))
    circles = "".join(np.char.add(np.char.add(np.char.add(
        '<circle cx="', _fmt(x_of(bad_t[marks]))), '" cy="'),
        np.char.add(_fmt(price_y(bad_close[marks])), '" r="3.5"/>')))

    title = f"{ticker} on {day.isoformat()} (worst ticker of the day)"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" role="img">',
        f"<title>{html.escape(title)}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
        _text(WIDTH / 2, TOP - 14, title, anchor="middle", size=14),
        _axes_frame(),
        f'<polyline points="{points}" fill="none" stroke="{LINE_COLOR}" stroke-width="1.2"/>'
        if points else "",
        f'<path d="{volume_path}" stroke="{VOLUME_COLOR}" stroke-width="1"/>'
        if volume_path else "",
        f'<g fill="{QUARANTINE_COLOR}">{circles}</g>' if circles else "",
        _y_labels(price_domain, volume_max, has_prices=bool(line.any() or marks.any())),
        _time_labels(time_domain) if timed.any() or marks.any() else "",
        _legend(quarantined=bool(marks.any())),
        "</svg>",
    ]
    return "".join(parts)


def _axes_frame() -> str:
    return (
        f'<g fill="none" stroke="#999" stroke-width="1">'
        f'<rect x="{PLOT_LEFT}" y="{PRICE_TOP:.1f}" width="{PLOT_RIGHT - PLOT_LEFT}" '
        f'height="{PRICE_BOTTOM - PRICE_TOP:.1f}"/>'
        f'<rect x="{PLOT_LEFT}" y="{VOLUME_TOP:.1f}" width="{PLOT_RIGHT - PLOT_LEFT}" '
        f'height="{VOLUME_BOTTOM - VOLUME_TOP:.1f}"/></g>'
    )


def _y_labels(price_domain: tuple[float, float], volume_max: float, has_prices: bool) -> str:
    """Min/max of each panel at its left edge, plus the panel names."""
    x = PLOT_LEFT - 6
    labels = [
        _text(12, (PRICE_TOP + PRICE_BOTTOM) / 2, "price", anchor="middle",
              extra=f' transform="rotate(-90 12 {(PRICE_TOP + PRICE_BOTTOM) / 2:.1f})"'),
        _text(12, (VOLUME_TOP + VOLUME_BOTTOM) / 2, "volume", anchor="middle", size=10,
              extra=f' transform="rotate(-90 12 {(VOLUME_TOP + VOLUME_BOTTOM) / 2:.1f})"'),
        _text(x, VOLUME_TOP + 10, f"{volume_max:,.0f}", anchor="end", size=10),
        _text(x, VOLUME_BOTTOM, "0", anchor="end", size=10),
    ]
    if has_prices:
        low, high = price_domain
        labels += [_text(x, PRICE_TOP + 10, f"{high:,.2f}", anchor="end"),
                   _text(x, PRICE_BOTTOM, f"{low:,.2f}", anchor="end")]
    return "".join(labels)


def _time_labels(time_domain: tuple[float, float]) -> str:
    """A few evenly spaced UTC clock times under the volume panel."""
    import numpy as np
    ticks = np.linspace(time_domain[0], time_domain[1], TIME_LABELS)
    minutes = np.floor(ticks / 60).astype("int64").astype("datetime64[m]")  # naive = UTC
    names = [iso[-5:] for iso in np.datetime_as_string(minutes, unit="m")]
    xs = _scale(ticks, time_domain, PLOT_LEFT, PLOT_RIGHT)
    anchors = ["start"] + ["middle"] * (TIME_LABELS - 2) + ["end"]
    labels = "".join(_text(float(x), VOLUME_BOTTOM + 14, name, anchor=anchor, size=10)
                     for x, name, anchor in zip(xs, names, anchors, strict=True))
    return labels + _text(PLOT_RIGHT, HEIGHT - 4, "time (UTC)", anchor="end", size=10)


def _legend(quarantined: bool) -> str:
    x, y = PLOT_LEFT + 8, PRICE_TOP + 14
    items = [
        f'<line x1="{x}" y1="{y - 4:.1f}" x2="{x + 18}" y2="{y - 4:.1f}" '
        f'stroke="{LINE_COLOR}" stroke-width="2"/>',
        _text(x + 24, y, "close", size=10),
    ]
    if quarantined:
        items += [
            f'<circle cx="{x + 9}" cy="{y + 10:.1f}" r="3.5" fill="{QUARANTINE_COLOR}"/>',
            _text(x + 24, y + 14, "quarantined", size=10),
        ]
    return f'<g class="legend">{"".join(items)}</g>'
