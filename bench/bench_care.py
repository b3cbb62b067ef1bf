"""Care at volume: the nightly birthday scan and the event-triggered care over 1,000,000 customers, the dispatcher's
throughput to the file backend with the consent, quiet-hour and frequency-cap checks on, and the Celery messages a
nightly job publishes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench .venv/bin/python bench/bench_care.py

Needs a seeded benchmark database (bench_seed.py). Sets ``lunar_birthday`` on 5 % of the customers (a fixed
sample), deletes the messages, care keys and job runs of earlier runs, then: the scan for a day (reminders for the
day + 3, greetings for the day), twice (the second finds everything done); then N queued marketing messages
(``--messages``) to consenting customers, due now at 10:00 Shanghai time, sent by the dispatcher to a file backend
in a temporary directory. Refuses a database whose name lacks "bench".
"""

import argparse
import datetime as dt
import sys
import tempfile
import time
from zoneinfo import ZoneInfo

import common
from celery.signals import before_task_publish
from django.conf import settings
from django.db import connection, transaction

from campaigns import care, dispatch, events, jobs
from campaigns.models import Attempt, CareKey, JobRun, Message
from customers.models import FollowUpTask

SH = ZoneInfo("Asia/Shanghai")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2026, 3, 15))
    parser.add_argument("--messages", type=int, default=50_000)
    args = parser.parse_args()
    if "bench" not in connection.settings_dict["NAME"]:
        sys.exit("refusing: run in a benchmark database (its name contains 'bench')")
    common.header("Care: the nightly scans over the customer book, the dispatcher's throughput")
    with transaction.atomic(), connection.cursor() as cur:
        tasks = list(CareKey.objects.exclude(task=None).values_list("task_id", flat=True))
        for model in (Attempt, Message, CareKey, JobRun):
            model.objects.all().delete()
        FollowUpTask.objects.filter(pk__in=tasks).delete()
        FollowUpTask.objects.filter(key__isnull=False).delete()  # the event-triggered tasks of earlier runs
        cur.execute("UPDATE customers_customer SET lunar_birthday = (id %% 20 = 0) "
                    "WHERE lunar_birthday <> (id %% 20 = 0)", [])
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE customers_customer")
    now = dt.datetime.combine(args.day, dt.time(0, 30), tzinfo=SH)
    for label in ("first run", "second run (everything done already)"):
        t0 = time.perf_counter()
        counts = care.birthday_scan(day=args.day, now=now)
        common.report(f"birthday scan, 1,000,000 customers, {label}", time.perf_counter() - t0, "s", target=10,
                      note=f"{counts['reminders']:,} reminders, {counts['greetings']:,} greetings, "
                           f"{counts['no_channel']:,} without a consented channel")

    for label in ("first run", "second run (everything done already)"):
        t0 = time.perf_counter()
        counts = events.care_events(day=args.day)
        common.report(f"event-triggered care over 1,000,000 customers, {label}", time.perf_counter() - t0, "s",
                      note=", ".join(f"{k} {v:,}" for k, v in counts.items()))

    send_at = dt.datetime.combine(args.day, dt.time(10), tzinfo=SH)
    with connection.cursor() as cur:
        cur.execute("SELECT id, mobile FROM customers_customer WHERE consent_sms AND NOT do_not_contact "
                    "AND mobile <> '' ORDER BY id LIMIT %s", [args.messages])
        rows = cur.fetchall()
    Message.objects.filter(purpose="campaign").delete()
    Message.objects.bulk_create([
        Message(key=f"bench:{pk}", customer_id=pk, channel="sms", purpose=Message.Purpose.CAMPAIGN,
                recipient=mobile, body="【本行】理财新品上市，详询您的客户经理。回复T退订", due_at=send_at)
        for pk, mobile in rows], batch_size=5000)
    with tempfile.TemporaryDirectory() as directory:
        settings.CARE_MESSAGE_BACKEND, settings.CARE_MESSAGE_DIR = "file", directory
        t0 = time.perf_counter()
        counts = dispatch.dispatch_all(now=send_at, batch=1000, limit=10_000_000)
        elapsed = time.perf_counter() - t0
    common.report("dispatch to the file backend, checks on", counts.get("sent", 0) / elapsed, "messages/s",
                  target=2000, higher_is_better=True, fmt="{:,.0f}",
                  note=f"{counts.get('sent', 0):,} sent in {elapsed:.1f} s; {counts}")
    published = []

    def count(sender=None, **kwargs):
        published.append(sender)

    before_task_publish.connect(count, weak=False)
    try:
        jobs.run("birthday_scan", day=args.day + dt.timedelta(days=1), now=now + dt.timedelta(days=1))
    finally:
        before_task_publish.disconnect(count)
    common.report("Celery messages a nightly job publishes", 1 + len(published), "", fmt="{:,.0f}", target=300,
                  note=f"the one beat publishes to start it + {len(published)} published while the scan ran "
                       f"(counted with Celery's before_task_publish signal)")
    common.save(__file__)


if __name__ == "__main__":
    main()
