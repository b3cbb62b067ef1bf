"""What every part of the demo shares: the seed, the reference date and its months, the organisation plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone

import numpy as np

from .names import AREAS
from .org import BRANCHES, OrgPlan

CHINA_TZ = dt_timezone(timedelta(hours=8))


@dataclass
class Context:
    seed: int
    months: int
    today: date
    org: OrgPlan | None           # set by demo.org.prepare
    ref_epoch: int                # local midnight starting `today`, in epoch seconds: every timestamp is before it
    periods: list[date]           # first day of each month, oldest first
    period_days: np.ndarray       # epoch day of each period's first day
    period_len: np.ndarray        # days of each period up to `today` (the current month is partial)
    area_codes: np.ndarray = field(default_factory=lambda: np.array([a[0] for a in AREAS]))
    area_names: np.ndarray = field(default_factory=lambda: np.array([a[1] + a[2] for a in AREAS], dtype=object))
    city_areas: list = field(default_factory=lambda: [np.array([i for i, a in enumerate(AREAS)
                                                                if a[0].startswith(b[2])]) for b in BRANCHES])


def make_context(*, seed: int, months: int, today: date, org: OrgPlan | None = None) -> Context:
    """The reference date, its months and their lengths, shared by every part."""
    periods = []
    y, m = today.year, today.month
    for _ in range(months):
        periods.append(date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    periods.reverse()
    epoch = date(1970, 1, 1)
    lengths = []
    for p in periods:
        nxt = date(p.year + (p.month == 12), p.month % 12 + 1, 1)
        lengths.append((min(nxt - timedelta(days=1), today) - p).days + 1)
    ref = datetime(today.year, today.month, today.day, tzinfo=CHINA_TZ)
    return Context(seed=seed, months=months, today=today, org=org, ref_epoch=int(ref.timestamp()),
                   periods=periods, period_days=np.array([(p - epoch).days for p in periods]),
                   period_len=np.array(lengths))


@dataclass
class Chunk:
    tables: list                   # (table, columns, text, rows)
    customers: int

