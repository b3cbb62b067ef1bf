"""Segmentation at a million customers: a full run on one and on two real Celery workers (wall time, peak memory),
the what-if preview, the migration-matrix page between two runs of every customer (head office), the supervision
page of the largest branch subtree (its supervisor, ≈180,000 customers), and the same classification by a
per-customer ORM loop on a 20,000-customer sample.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_seg .venv/bin/python bench/bench_segmentation.py

Needs Redis (REDIS_URL, default redis://127.0.0.1:6379/8) and a seeded database (bench_seed.py, 3 months). It
publishes a fresh policy version for each measured run (a run is idempotent per month and policy version), so it
refuses a database whose name lacks "bench".
"""

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
import uuid

from common import ROOT, connection, header, report, save, summary, time_ms  # django.setup() first
from django.db import transaction
from django.utils import timezone

from segmentation import engine, rules, services
from segmentation.constants import CardTier, PolicyStatus, RunStatus, ValueTier
from segmentation.models import Assignment, Policy, Run

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/8")


def fresh_policy() -> Policy:
    """A new published version with the default settings (the previous one retired)."""
    with transaction.atomic():
        Policy.objects.filter(status=PolicyStatus.PUBLISHED).update(status=PolicyStatus.RETIRED)
        version = (Policy.objects.order_by("-version").values_list("version", flat=True).first() or 0) + 1
        return Policy.objects.create(version=version, status=PolicyStatus.PUBLISHED, published_at=timezone.now(),
                                     note="bench")


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process and its children, in MB."""
    total = 0
    for p in [pid, *children(pid)]:
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
        except (OSError, StopIteration):
            pass
    return total / 1024


def children(pid):
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], check=False, capture_output=True, text=True).stdout.split()
    except OSError:
        return []
    return [int(p) for p in out]


def postgres_backends_peak_mb(database: str) -> float:
    """Peak private memory of the database's backends (VmHWM minus shared memory touched), in MB."""
    with connection.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [database])
        pids = [row[0] for row in cur.fetchall()]
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                fields = {line.split(":")[0]: line.split()[1] for line in f if ":" in line}
            total += int(fields.get("VmHWM", 0)) - int(fields.get("RssShmem", 0))
        except (OSError, ValueError):
            pass
    return max(total, 0) / 1024


def timed_run(workers: int, as_of) -> tuple[float, float, Run]:
    """A run of a fresh policy version on ``workers`` real Celery workers: (wall seconds, peak MB, run)."""
    from crm_project.celery import app

    app.conf.broker_url = app.conf.result_backend = REDIS_URL
    queue = f"bench-seg-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, REDIS_URL=REDIS_URL, LOG_LEVEL="WARNING")
    procs = [subprocess.Popen([sys.executable, "-m", "celery", "-A", "crm_project", "worker", "--pool=solo", "-Q",
                               queue, "-n", f"w{k}-{queue}@%h", "--without-gossip", "--without-mingle",
                               "--loglevel=WARNING"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL) for k in range(workers)]
    try:
        time.sleep(4)  # the workers start (imports, Django setup) before the clock does
        fresh_policy()
        t0 = time.perf_counter()
        run, _started = services.run_start(as_of=as_of, queue=queue)
        while True:
            run.refresh_from_db(fields=["status", "customers_done", "chunks_total", "error"])
            if run.status != RunStatus.RUNNING:
                break
            time.sleep(0.2)
        wall = time.perf_counter() - t0
        peak = sum(peak_rss_mb(p.pid) for p in procs) + peak_rss_mb(os.getpid())
        peak += postgres_backends_peak_mb(connection.settings_dict["NAME"])
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)
    if run.status != RunStatus.DONE:
        sys.exit(f"run {run.pk} {run.status}: {run.error}")
    return wall, peak, run


def orm_loop(policy: Policy, as_of, sample: int) -> float:
    """The same classification one customer at a time through the ORM (the way this is often written): per
    customer, read its snapshot, rank it against its branch with a COUNT, derive the value and card tiers and save
    an Assignment row. The ranking population is the sample itself (the first ``sample`` customers by id): a COUNT
    over a whole branch of the million takes ≈0.25 s, so 20,000 of them would take well over an hour. Returns
    seconds per customer. Rolled back."""
    from customers.models import Customer, FinancialSnapshot

    names_v, names_c = [t.value for t in ValueTier], [t.value for t in CardTier]
    customers = list(Customer.objects.order_by("id").values_list("id", flat=True)[:sample])
    lo, hi = customers[0], customers[-1]
    in_sample = {"customer_id__gte": lo, "customer_id__lte": hi, "period": as_of}
    branch_sizes = {}
    t0 = time.perf_counter()
    with transaction.atomic():
        run = Run.objects.create(as_of=as_of, policy=policy, trigger="manual", status=RunStatus.FAILED)
        for customer in Customer.objects.filter(id__gte=lo, id__lte=hi).order_by("id"):
            snap = FinancialSnapshot.objects.filter(customer=customer, period=as_of).first()
            row = Assignment(run=run, customer=customer, branch_id=customer.branch_id, rm_id=customer.rm_id)
            if snap is not None:
                score = snap.contribution
                if customer.branch_id not in branch_sizes:
                    branch_sizes[customer.branch_id] = FinancialSnapshot.objects.filter(
                        customer__branch_id=customer.branch_id, **in_sample).count()
                higher = FinancialSnapshot.objects.filter(customer__branch_id=customer.branch_id,
                                                          contribution__gt=score, **in_sample).count()
                size = branch_sizes[customer.branch_id]
                tier = int(rules.tiers_by_place([higher], [size], policy.pyramid)[0])
                card = int(rules.card_tiers([float(snap.aum_avg)], policy.card_thresholds)[0])
                row.score, row.aum_avg = score, snap.aum_avg
                row.value_tier = row.value_tier_computed = names_v[tier]
                row.card_tier = row.card_tier_computed = row.card_tier_held = names_c[card]
            row.save()
        elapsed = time.perf_counter() - t0
        transaction.set_rollback(True)
    return elapsed / len(customers)


def pages(today, n: int = 20) -> None:
    """The supervision pages as their users get them (the test client, DEBUG off): the migration matrix between the
    run in force and the latest run of an earlier month, for head office (every customer in both runs); the overview
    (pyramid, Pareto, compliance per RM, branch comparison) for the supervisor of the largest subtree. The clock is
    pinned to the data's ``today`` (bench_seed's --today), so that compliance counts real interactions; compliance
    is counted first, as the quarter-hourly task does (timed too)."""
    import time_machine
    from django.test import Client
    from django.urls import reverse

    from org.models import User
    from segmentation import selectors

    runs = selectors.done_runs()
    run_to = next(r for r in runs if r.is_current)
    run_from = next((r for r in runs if r.as_of < run_to.as_of), runs[-1])
    hq = User.objects.get(username="hq")
    supervisor = User.objects.get(username="sup1")
    subtree = selectors.assignments(supervisor, run=run_to).count()
    traveller = time_machine.travel(dt.datetime.combine(today, dt.time(10), tzinfo=timezone.get_current_timezone()))
    traveller.start()
    if not run_to.figures_ready:  # a run finished before the figures were stored (the engine stores them now)
        engine.store_figures(run_to.pk)
        Run.objects.filter(pk=run_to.pk).update(figures_ready=True)
    t0 = time.perf_counter()
    services.compliance_refresh(today=today, now=timezone.now())
    report("contact compliance counted for the run in force (the quarter-hourly task)", time.perf_counter() - t0,
           "s", note=f"{run_to.customers_done:,} customers")
    for user, label, url, target, note in [
        (hq, "migration matrix page between two runs (head office)",
         reverse("segmentation:migration") + f"?from={run_from.pk}&to={run_to.pk}", 2000,
         f"{run_from.customers_done:,} × {run_to.customers_done:,} customers"),
        (supervisor, f"supervision page of a {subtree:,}-customer subtree (its supervisor)",
         reverse("segmentation:supervision") + f"?run={run_to.pk}", 300, ""),
        (hq, "supervision page of the whole bank (head office, with the branch comparison)",
         reverse("segmentation:supervision") + f"?run={run_to.pk}", None, f"{run_to.customers_done:,} customers"),
    ]:
        client = Client()
        client.force_login(user)
        for _ in range(2):  # warm: the first requests load templates and the catalogue
            response = client.get(url)
            if response.status_code != 200:
                sys.exit(f"{url}: {response.status_code}")
        times = [time_ms(client.get, url)[0] for _ in range(n)]
        summary(label, times, target_p95=target, note=note)
    traveller.stop()


PARTS = ("runs", "preview", "pages", "orm")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--today", type=dt.date.fromisoformat, default=dt.date(2026, 3, 15),
                        help="the data's today (bench_seed.py --today) for the supervision pages")
    parser.add_argument("--only", choices=PARTS, action="append",
                        help="measure only this part (repeatable); the ORM ratio without 'runs' uses the duration "
                             "of the latest completed run")
    args = parser.parse_args()
    parts = set(args.only or PARTS)
    name = connection.settings_dict["NAME"]
    if "bench" not in name:
        sys.exit(f"refusing {name!r}: run in a benchmark database (its name contains 'bench')")
    header("Segmentation: full runs on real Celery workers, what-if preview, supervision pages, ORM-loop comparison")
    as_of = services.latest_period()
    print(f"# as of {as_of:%Y-%m}", flush=True)

    per_customer_engine = None
    if "runs" in parts:
        wall, _peak, run = timed_run(1, as_of)  # warm-up: fills the cache, leaves a run in force for the next ones
        report("warm-up run, one worker", wall, "s", note=f"{run.customers_done:,} customers, {run.chunks_total} chunks")
        wall1, peak1, run1 = timed_run(1, as_of)
        report("full run, one worker (classification + assignments + history)", wall1, "s", target=60,
               note=f"{run1.customers_done:,} customers, {run1.chunks_total} chunks")
        report("peak memory, one worker (worker + coordinator + database backends)", peak1, "MB", target=2048)
        wall2, peak2, run2 = timed_run(2, as_of)
        report("full run, two workers", wall2, "s", note=f"{run2.chunks_total} chunks")
        report("two workers / one worker", wall2 / wall1, "×", target=0.7, fmt="{:.2f}")
        report("peak memory, two workers (all processes)", peak2, "MB", target=2048)
        per_customer_engine = wall1 / run1.customers_done

    if "preview" in parts:
        policy = Policy.objects.get(status=PolicyStatus.PUBLISHED)
        t0 = time.perf_counter()
        preview = engine.preview(policy, as_of, today=timezone.localdate(), chunk_size=100_000)
        report("what-if preview over every customer", time.perf_counter() - t0, "s", target=15,
               note=f"{sum(r['customers'] for r in preview['value_tiers']):,} customers")

    if "pages" in parts:
        pages(args.today)

    if "orm" in parts:
        if per_customer_engine is None:
            last = Run.objects.filter(status=RunStatus.DONE).latest("finished_at")
            per_customer_engine = (last.finished_at - last.started_at).total_seconds() / last.customers_done
        sample = 20_000
        per_customer_orm = orm_loop(Policy.objects.get(status=PolicyStatus.PUBLISHED), as_of, sample)
        report("ORM loop, per customer (20,000 sample)", per_customer_orm * 1000, "ms")
        report("engine, per customer (full run, one worker)", per_customer_engine * 1000, "ms", fmt="{:.4f}")
        report("ORM loop / engine, per customer", per_customer_orm / per_customer_engine, "×", fmt="{:,.0f}",
               note=f"the ORM loop would take {per_customer_orm * 1_000_000 / 3600:.1f} h for a million customers")
    save(__file__)


if __name__ == "__main__":
    main()
