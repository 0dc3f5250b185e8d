"""Intraday alert rules, each firing once per crossing.

Every rule keeps a state per ticker (``above``/``below`` a price level, ``inside``/``outside``
a VWAP band, ``fresh``/``stale``) and fires only when the state flips into the alerting side;
the state lives in the live store next to the bars, so a restart neither repeats nor loses
a crossing. A price level fires on each crossing, up or down; the VWAP band and staleness
fire on entering the alerting state and re-arm when the ticker returns.

Time for staleness is the stream's own clock (the newest bar start seen across tickers), not
the wall clock: a replay at 60x then behaves exactly like the live session, and a feed that
stops entirely is the consumer-lag problem Dagster's observation of the live asset reports.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from finks_assets.lib.alert_messages import redact
from finks_assets.lib.tickers import validate_ticker

US_PER_MINUTE = 60_000_000


@dataclass(frozen=True)
class AlertRules:
    """Which alerts to evaluate. ``price_levels`` maps a ticker to its price thresholds."""

    price_levels: dict[str, tuple[float, ...]] = field(default_factory=dict)
    vwap_deviation_pct: float | None = None
    stale_minutes: float | None = None

    def __post_init__(self) -> None:
        for ticker in self.price_levels:
            validate_ticker(ticker)
        if self.vwap_deviation_pct is not None and self.vwap_deviation_pct <= 0:
            raise ValueError("vwap_deviation_pct must be positive")
        if self.stale_minutes is not None and self.stale_minutes <= 0:
            raise ValueError("stale_minutes must be positive")

    @classmethod
    def parse_levels(cls, spec: str | None) -> dict[str, tuple[float, ...]]:
        """``"AAPL=190.5:200,MSFT=410"`` -> ``{"AAPL": (190.5, 200.0), "MSFT": (410.0,)}``."""
        levels: dict[str, tuple[float, ...]] = {}
        for part in filter(None, (p.strip() for p in (spec or "").split(","))):
            ticker, _, values = part.partition("=")
            levels[validate_ticker(ticker.strip())] = tuple(float(v) for v in values.split(":"))
        return levels


@dataclass(frozen=True)
class StreamAlert:
    """One fired alert; :class:`AlertResource` sends its ``text`` and ``payload()``."""

    rule: str
    ticker: str
    bar_ts: int  # epoch microseconds of the bar that crossed
    detail: str
    kind: str = "stream_alert"

    @property
    def text(self) -> str:
        return redact(f"Finks live alert {self.rule} on {self.ticker}: {self.detail}")

    def payload(self) -> dict[str, object]:
        return {**asdict(self), "text": self.text}


def _flip(states: dict[tuple[str, str], str], rule: str, ticker: str, new: str,
          alerting: set[str] | None) -> bool:
    """Record ``new``; True when it is a crossing that fires (into ``alerting``, or any
    change of side when ``alerting`` is None). A first observation never fires."""
    old = states.get((rule, ticker))
    states[(rule, ticker)] = new
    if old is None or old == new:
        return False
    return alerting is None or new in alerting


def evaluate_bar(rules: AlertRules, states: dict[tuple[str, str], str], ticker: str,
                 ts_us: int, price: float, vwap: float | None) -> list[StreamAlert]:
    """Price-level and VWAP-band rules after one bar of ``ticker``."""
    fired = []
    for level in rules.price_levels.get(ticker, ()):
        rule = f"price_cross:{level:g}"
        side = "above" if price >= level else "below"
        if _flip(states, rule, ticker, side, None):
            fired.append(StreamAlert(rule, ticker, ts_us,
                                     f"price {price:g} crossed {level:g} ({side})"))
    if rules.vwap_deviation_pct is not None and vwap:
        rule = f"vwap_deviation:{rules.vwap_deviation_pct:g}%"
        deviation = abs(price - vwap) / vwap * 100
        band = "outside" if deviation > rules.vwap_deviation_pct else "inside"
        states.setdefault((rule, ticker), "inside")
        if _flip(states, rule, ticker, band, {"outside"}):
            fired.append(StreamAlert(rule, ticker, ts_us,
                                     f"price {price:g} is {deviation:.2f}% from VWAP {vwap:.4f}"))
    return fired


def evaluate_staleness(rules: AlertRules, states: dict[tuple[str, str], str],
                       last_ts: dict[str, int], clock_us: int) -> list[StreamAlert]:
    """Staleness for every ticker against the stream clock (newest bar start seen)."""
    if rules.stale_minutes is None:
        return []
    rule, limit = f"stale:{rules.stale_minutes:g}m", rules.stale_minutes * US_PER_MINUTE
    fired = []
    for ticker, ts in sorted(last_ts.items()):
        state = "stale" if clock_us - ts > limit else "fresh"
        states.setdefault((rule, ticker), "fresh")
        if _flip(states, rule, ticker, state, {"stale"}):
            minutes = (clock_us - ts) / US_PER_MINUTE
            fired.append(StreamAlert(rule, ticker, clock_us,
                                     f"no bar for {minutes:g} minutes (limit {rules.stale_minutes:g})"))
    return fired
