"""The complaint queue page at volume: 200,000 complaints (a quarter open), the page's server time for a branch
supervisor, a complaint officer, an RM and head office, unfiltered (open, soonest deadline first) and filtered
(breached; overdue; a category; received newest first), plus the supervisor board and the queue API.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench .venv/bin/python bench/bench_complaint_queue.py

Needs a seeded benchmark database (bench_seed.py: customers, branches, the demo logins). Writes N complaints
(``--complaints``) received over the two years before now (bulk inserts; complaints of an earlier run of this
script or of bench_complaints.py are deleted first). Measured in-process with django.test.Client (full middleware,
session, template), like bench_pages.py. Refuses a database whose name lacks "bench".
"""

import argparse
import datetime as dt
import sys
import time

import common
import numpy as np
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from complaints import monitor
from complaints.constants import Channel, EscalationLevel, Priority, SlaState, Status
from complaints.models import Alert, Category, ClockRun, Complaint, ComplaintEvent, Extension, SlaPolicy
from core.models import OutboxMessage

OPEN = [Status.NEW, Status.ACKNOWLEDGED, Status.INVESTIGATING, Status.PENDING_CUSTOMER]


def seed(n: int, rng) -> None:
    with transaction.atomic():
        OutboxMessage.objects.filter(topic=monitor.ALERT_TOPIC).delete()
        for model in (Alert, ComplaintEvent, ClockRun, Extension):
            model.objects.all().delete()
        Complaint.objects.filter(review_of__isnull=False).delete()
        Complaint.objects.all().delete()
    with connection.cursor() as cur:
        cur.execute("SELECT id, branch_id FROM customers_customer ORDER BY random() LIMIT %s", [n])
        customers = cur.fetchall()
    categories = list(Category.objects.filter(parent__isnull=False).values_list("id", flat=True))
    policy = SlaPolicy.objects.get(is_default=True)
    now = timezone.now()
    t0 = time.perf_counter()
    channels = list(Channel.values)
    for start in range(0, n, 10_000):
        size = min(10_000, n - start)
        open_share = rng.random(size) < 0.25
        ages = np.where(open_share, rng.integers(3600, 40 * 86400, size), rng.integers(40 * 86400, 730 * 86400, size))
        rows = []
        for k in range(size):
            customer_id, branch_id = customers[start + k]
            received = now - dt.timedelta(seconds=int(ages[k]))
            if open_share[k]:
                status = OPEN[int(rng.integers(4))]
                due = received + dt.timedelta(days=14)
                state = (SlaState.PAUSED if status == Status.PENDING_CUSTOMER else SlaState.BREACHED if due < now
                         else SlaState.AT_RISK if due < now + dt.timedelta(days=3) else SlaState.ON_TRACK)
                resolved = None
            else:
                status = [Status.RESOLVED, Status.CLOSED, Status.CLOSED, Status.WITHDRAWN][int(rng.integers(4))]
                due, state, resolved = received + dt.timedelta(days=14), SlaState.MET, received + dt.timedelta(days=6)
            rows.append(Complaint(
                number=f"TS{received:%Y%m%d}{start + k:07d}", customer_id=customer_id, branch_id=branch_id,
                channel=channels[(start + k) % len(channels)], category_id=categories[(start + k) % len(categories)],
                description="年费争议", received_at=received, priority=Priority.NORMAL, status=status, policy=policy,
                regulatory_due_date=(received + dt.timedelta(days=15)).date(), resolution_due=due,
                first_response_due=received + dt.timedelta(days=1), sla_state=state,
                first_responded_at=None if status == Status.NEW else received + dt.timedelta(hours=2),
                resolved_at=resolved, escalation_level=EscalationLevel.SUPERVISOR if state == SlaState.BREACHED
                else EscalationLevel.HANDLER))
        with transaction.atomic():
            Complaint.objects.bulk_create(rows, batch_size=5000)
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE complaints_complaint")
    common.report("seed: complaints", time.perf_counter() - t0, "s", note=f"{n:,} complaints")


def time_page(client, label, url, n, target):
    for _ in range(3):
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code, r.content[:300])
    times = []
    for _ in range(n):
        ms, r = common.time_ms(client.get, url)
        assert r.status_code == 200
        times.append(ms)
    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    common.summary(label, times, target_p95=target, note=f"{len(ctx.captured_queries)} queries")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=200_000)
    parser.add_argument("--n", type=int, default=60, help="requests per figure")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-seed", action="store_true", help="measure the complaints already there")
    args = parser.parse_args()
    name = connection.settings_dict["NAME"]
    if "bench" not in name:
        sys.exit(f"refusing {name!r}: run in a benchmark database (its name contains 'bench')")
    common.header("Complaint queue page over 200,000 complaints (server time in-process)")
    if not args.no_seed:
        seed(args.complaints, np.random.default_rng(args.seed))
    total = Complaint.objects.count()
    category = Category.objects.filter(parent__isnull=True).order_by("id").first()
    for username in ("sup1", "officer1", "rm1", "hq"):
        client = Client()
        client.force_login(common.user(username))
        time_page(client, f"{username} queue /complaints/ (open, soonest deadline first)", "/complaints/", args.n, 200)
        for label, query in (("breached", "sla_state=breached"), ("overdue", "overdue=true"),
                             (f"category {category.code}", f"status=&category={category.pk}"),
                             ("all, received newest first", "status=&ordering=received")):
            time_page(client, f"{username} queue ?{label}", f"/complaints/?{query}", args.n, 200)
    for username in ("sup1", "hq"):
        client = Client()
        client.force_login(common.user(username))
        time_page(client, f"{username} supervisor board /complaints/board/", "/complaints/board/", args.n, None)
        time_page(client, f"{username} queue API /api/v1/complaints/?status=open", "/api/v1/complaints/?status=open",
                  args.n, None)
    print(f"# {total:,} complaints in the database", flush=True)
    common.save(__file__)


if __name__ == "__main__":
    main()
