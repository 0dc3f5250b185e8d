"""A client-side token bucket, so a run stays inside the plan's calls-per-minute.

FMP plans are metered per minute (e.g. 300/min on Starter, 750/min on Premium). Answering 429s
with backoff works, but it wastes attempts and can trip FMP's abuse protection; pacing the
calls ourselves is cheaper. The bucket holds up to ``burst`` tokens and refills continuously at
``per_minute / 60`` tokens a second; each request takes one, waiting if none is left.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self,
        per_minute: float,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.rate = per_minute / 60.0
        # Default burst: one second's worth (at least 1), so a fresh bucket cannot fire a whole
        # minute's quota at once.
        self.capacity = float(burst if burst is not None else max(1, int(self.rate)))
        if self.capacity < 1:
            raise ValueError("burst must be at least 1")
        self._tokens = self.capacity
        self._clock, self._sleep = clock, sleep
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until one is available; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1 - 1e-9:  # tolerate float rounding of the refill
                    self._tokens = max(0.0, self._tokens - 1)
                    return waited
                wait = (1 - self._tokens) / self.rate
            self._sleep(wait)
            waited += wait
