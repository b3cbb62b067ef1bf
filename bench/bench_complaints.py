"""Complaints at volume: one SLA-monitor pass over 100,000 open complaints (the first pass, which records most
alerts, and a steady pass after it), and the due-time computation in bulk.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench .venv/bin/python bench/bench_complaints.py

Needs a seeded benchmark database (bench_seed.py; its customers and branches). It writes N complaints with their
clock runs (bulk inserts, ``--complaints``), received over the 40 days before a pinned ``now`` (Monday 16 March
2026, 10:00 Asia/Shanghai: working time), every one open (a quarter waiting for the customer); complaints, runs,
events and alerts of an earlier run of this script are deleted first. Refuses a database whose name lacks "bench".
"""

import argparse
import datetime as dt
import sys
import time
from zoneinfo import ZoneInfo

import numpy as np
from common import connection, header, report, save  # django.setup() first
from django.db import transaction

from complaints import monitor
from complaints.constants import Channel, Priority, SlaState, Status
from complaints.models import Alert, Category, ClockRun, Complaint, ComplaintEvent, SlaPolicy
from core.models import OutboxMessage
from org import selectors as org_selectors
from org.models import Branch
from org.rules import BusinessClock, epoch

TZ = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 3, 16, 10, tzinfo=TZ)


def seed(n: int, rng) -> None:
    with transaction.atomic():
        OutboxMessage.objects.filter(topic=monitor.ALERT_TOPIC).delete()
        for model in (Alert, ComplaintEvent, ClockRun, Complaint):
            model.objects.all().delete()
    with connection.cursor() as cur:
        cur.execute("SELECT id, branch_id FROM customers_customer ORDER BY random() LIMIT %s", [n])
        customers = cur.fetchall()
    category = Category.objects.get(code="card_fee")
    policy = SlaPolicy.objects.get(is_default=True)
    offsets = rng.integers(0, 40 * 86400, n)
    statuses = rng.choice([Status.NEW, Status.ACKNOWLEDGED, Status.INVESTIGATING, Status.PENDING_CUSTOMER], n,
                          p=[0.15, 0.25, 0.35, 0.25])
    t0 = time.perf_counter()
    batch = 10_000
    for start in range(0, n, batch):
        rows = []
        for k in range(start, min(n, start + batch)):
            customer_id, branch_id = customers[k]
            received = NOW - dt.timedelta(seconds=int(offsets[k]))
            rows.append(Complaint(
                number=f"BENCH{k:08d}", customer_id=customer_id, branch_id=branch_id, channel=Channel.HOTLINE,
                category=category, description="年费争议", received_at=received, priority=Priority.NORMAL,
                status=statuses[k], policy=policy, regulatory_due_date=received.date() + dt.timedelta(days=15),
                first_responded_at=None if statuses[k] == Status.NEW else received + dt.timedelta(hours=2),
                sla_state=SlaState.ON_TRACK))
        with transaction.atomic():
            created = Complaint.objects.bulk_create(rows)
            runs = []
            for c in created:
                if c.status == Status.PENDING_CUSTOMER:
                    runs.append(ClockRun(complaint=c, started_at=c.received_at,
                                         ended_at=c.received_at + (NOW - c.received_at) / 2))
                else:
                    runs.append(ClockRun(complaint=c, started_at=c.received_at))
            ClockRun.objects.bulk_create(runs)
    with connection.cursor() as cur:
        cur.execute("ANALYZE complaints_complaint; ANALYZE complaints_clockrun")
    report("seed: complaints with their clock runs", time.perf_counter() - t0, "s", note=f"{n:,} complaints")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    name = connection.settings_dict["NAME"]
    if "bench" not in name:
        sys.exit(f"refusing {name!r}: run in a benchmark database (its name contains 'bench')")
    header("Complaints: the SLA monitor over open complaints, due times in bulk")
    rng = np.random.default_rng(args.seed)
    seed(args.complaints, rng)

    for label in ("first pass (records most alerts)", "second pass (steady state)"):
        t0 = time.perf_counter()
        result = monitor.sla_monitor(now=NOW)
        report(f"SLA monitor, {label}", time.perf_counter() - t0, "s", target=5,
               note=f"{result['open']:,} open, {result['alerts']:,} new alerts, {result['escalated']:,} escalated")

    branch = Branch.objects.filter(level="outlet").first() or Branch.objects.first()
    calendar = org_selectors.working_calendar(branch)
    starts = np.array([epoch(NOW - dt.timedelta(seconds=int(s))) for s in rng.integers(0, 365 * 86400, 100_000)])
    t0 = time.perf_counter()
    clock = BusinessClock(calendar, (NOW - dt.timedelta(days=366)).date(), (NOW + dt.timedelta(days=800)).date())
    clock.after(starts, 70 * 3600)
    clock.after(starts, 24 * 3600)
    elapsed = time.perf_counter() - t0
    report("due times in bulk (first response and resolution, business time)", 100_000 / elapsed, "complaints/s",
           target=50_000, higher_is_better=True, fmt="{:,.0f}",
           note=f"100,000 complaints in {elapsed * 1000:.0f} ms incl. building the branch's clock")
    save(__file__)


if __name__ == "__main__":
    main()
