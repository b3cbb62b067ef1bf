"""Atomic rate counting: API throttles and the HTML actions that expose data (reveal, export).

A fixed window per (scope, identity). The window's counter is created with ``cache.add`` (only one
caller can create it) and raised with ``cache.incr`` (Redis INCR; the local-memory cache holds a
lock), so parallel requests never read the same count and all pass: a read-modify-write of a list of
timestamps (DRF's ``SimpleRateThrottle``) lets N parallel clients through N times.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.cache import cache

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
           "d": 86400, "day": 86400}


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int  # seconds

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``"600/min"``, ``"30/h"``, ``"5/10min"`` (DRF's notation, plus an optional count of units)."""
        count, _, unit = text.strip().partition("/")
        digits = "".join(ch for ch in unit if ch.isdigit())
        name = unit[len(digits):].strip().lower()
        if name not in PERIODS or not count.strip().isdigit():
            raise ValueError(f"Not a rate: {text!r} (write it as 600/min, 30/h, 5/10min)")
        return cls(limit=int(count), period=PERIODS[name] * (int(digits) if digits else 1))


@dataclass(frozen=True)
class Hit:
    allowed: bool
    count: int
    retry_after: int  # seconds until the window ends


def hit(scope: str, ident, rate: Rate, *, now: float | None = None) -> Hit:
    """Count one request of ``ident`` in ``scope``; allowed while the window's count is within the limit."""
    now = time.time() if now is None else now
    window = int(now // rate.period)
    key = f"ratelimit:{scope}:{ident}:{window}"
    if cache.add(key, 1, timeout=rate.period + 1):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=rate.period + 1)
            count = 1
    retry_after = max(1, int((window + 1) * rate.period - now))
    return Hit(allowed=count <= rate.limit, count=count, retry_after=retry_after)
