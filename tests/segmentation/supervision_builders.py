"""The hand-built world of the supervision tests: two completed runs over eleven customers on the organisation of
``tests.org.builders.build_org`` (HO → B1 with outlet B1A, and B2), with known scores, tiers and interactions.

Current run (2026-11, in force); score = contribution, AUM = score × 100:

| customer    | branch | RM      | previous run (2026-10) | current run        | interaction (Asia/Shanghai) |
|-------------|--------|---------|------------------------|--------------------|-----------------------------|
| c_rm        | B1     | rm      | secondary              | important, 500     | 2026-10-23 09:00 (in time)  |
| c_rm_outlet | B1A    | rm      | small                  | small, 5           | 2026-11-23 (after today)    |
| c_other     | B1     | other   | important              | secondary, 300     | 2026-10-22 23:00 (late)     |
| c_b2        | B2     | rm_b2   | ordinary               | ordinary, 100      | 2026-09-01 (in time)        |
| x1          | B1     | rm      | —                      | ordinary, 50       | none                        |
| x2          | B1     | other   | ordinary               | small, 20          | 2026-06-01 (in time)        |
| x3          | B2     | rm_b2   | small                  | small, 10          | 2026-11-01 (in time)        |
| x4          | B1A    | rm      | unclassified           | small, 10          | 2026-05-24 00:30 (in time)  |
| x5          | B2     | rm_b2   | small                  | unclassified, none | none                        |
| x6          | B1     | rm      | small                  | —                  | none                        |
| x7          | B1     | other   | small                  | small, 5           | none                        |
| x8          | B2     | (none)  | small                  | small, 0           | none                        |

Contact intervals: the default policy (important and secondary 30 days, ordinary 91, small 182); today 2026-11-22.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from customers.models import Interaction
from segmentation.constants import ValueTier
from segmentation.models import Run
from tests.customers.builders import CustomerFactory, InteractionFactory, World, build_world

from .builders import RunFactory, assign

TODAY = dt.date(2026, 11, 22)
TZ = ZoneInfo("Asia/Shanghai")
I, S, O, SM, U = ValueTier.IMPORTANT, ValueTier.SECONDARY, ValueTier.ORDINARY, ValueTier.SMALL, ""

# name: (branch attr, rm attr or None, previous tier or None (no row), current tier or None, current score)
ROWS = {
    "c_rm": ("b1", "rm", S, I, 500),
    "c_rm_outlet": ("b1a", "rm", SM, SM, 5),
    "c_other": ("b1", "other_rm", I, S, 300),
    "c_b2": ("b2", "rm_b2", O, O, 100),
    "x1": ("b1", "rm", None, O, 50),
    "x2": ("b1", "other_rm", O, SM, 20),
    "x3": ("b2", "rm_b2", SM, SM, 10),
    "x4": ("b1a", "rm", U, SM, 10),
    "x5": ("b2", "rm_b2", SM, U, None),
    "x6": ("b1", "rm", SM, None, None),
    "x7": ("b1", "other_rm", SM, SM, 5),
    "x8": ("b2", None, SM, SM, 0),
}
CONTACTS = {
    "c_rm": dt.datetime(2026, 10, 23, 9, 0, tzinfo=TZ),
    "c_rm_outlet": dt.datetime(2026, 11, 23, 10, 0, tzinfo=TZ),
    "c_other": dt.datetime(2026, 10, 22, 23, 0, tzinfo=TZ),
    "c_b2": dt.datetime(2026, 9, 1, 10, 0, tzinfo=TZ),
    "x2": dt.datetime(2026, 6, 1, 10, 0, tzinfo=TZ),
    "x3": dt.datetime(2026, 11, 1, 10, 0, tzinfo=TZ),
    "x4": dt.datetime(2026, 5, 24, 0, 30, tzinfo=TZ),
}


@dataclass
class SupervisionWorld(World):
    previous: Run | None = None
    current: Run | None = None
    people: dict = field(default_factory=dict)  # name → Customer (the world's four and x1 … x8)


def build_supervision_world() -> SupervisionWorld:
    w = SupervisionWorld(**vars(build_world()))
    Interaction.objects.all().delete()  # build_world's are "yesterday" by the clock; these are pinned
    w.previous = RunFactory(as_of=dt.date(2026, 10, 1))
    w.current = RunFactory(as_of=dt.date(2026, 11, 1), is_current=True)
    for name, (branch, rm, before, now, score) in ROWS.items():
        customer = w.customers.get(name) or CustomerFactory(
            name=f"客户{name}", branch=getattr(w, branch), rm=getattr(w, rm) if rm else None)
        w.people[name] = customer
        where = {"branch_id": getattr(w, branch).pk, "rm_id": getattr(w, rm).pk if rm else None}
        if before is not None:
            assign(w.previous, customer, value_tier=before, score=Decimal(score or 0), **where)
        if now is not None:
            assign(w.current, customer, value_tier=now, score=None if score is None else Decimal(score),
                   aum_avg=Decimal((score or 0) * 100), **where)
        if name in CONTACTS:
            InteractionFactory(customer=customer, occurred_at=CONTACTS[name])
    return w
