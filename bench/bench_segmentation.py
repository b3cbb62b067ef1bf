"""Segmentation at a million customers: a full run on one and on two real Celery workers (wall time, peak memory),
the what-if preview, and the same classification by a per-customer ORM loop on a 20,000-customer sample.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_seg .venv/bin/python bench/bench_segmentation.py

Needs Redis (REDIS_URL, default redis://127.0.0.1:6379/8) and a seeded database (bench_seed.py, 3 months). It
publishes a fresh policy version for each measured run (a run is idempotent per month and policy version), so it
refuses a database whose name lacks "bench".
"""

import os
import subprocess
import sys
import time
import uuid

from common import ROOT, connection, header, report, save  # django.setup() first
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
                               "--loglevel=WARNING"], cwd=ROOT, env=env) for k in range(workers)]
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
    customer, read its snapshot, rank it against its branch with a COUNT, derive the card tier and save an
    Assignment row. Returns seconds per customer. Rolled back."""
    from customers.models import Customer, FinancialSnapshot

    names_v, names_c = [t.value for t in ValueTier], [t.value for t in CardTier]
    branch_sizes = {}
    t0 = time.perf_counter()
    with transaction.atomic():
        run = Run.objects.create(as_of=as_of, policy=policy, trigger="manual", status=RunStatus.FAILED)
        for customer in Customer.objects.order_by("id")[:sample]:
            snap = FinancialSnapshot.objects.filter(customer=customer, period=as_of).first()
            row = Assignment(run=run, customer=customer, branch_id=customer.branch_id, rm_id=customer.rm_id)
            if snap is not None:
                score = snap.contribution
                if customer.branch_id not in branch_sizes:
                    branch_sizes[customer.branch_id] = FinancialSnapshot.objects.filter(
                        period=as_of, customer__branch_id=customer.branch_id).count()
                higher = FinancialSnapshot.objects.filter(period=as_of, customer__branch_id=customer.branch_id,
                                                          contribution__gt=score).count()
                size = branch_sizes[customer.branch_id]
                tier = int(rules.tiers_by_place([higher], [size], policy.pyramid)[0])
                card = int(rules.card_tiers([float(snap.aum_avg)], policy.card_thresholds)[0])
                row.score, row.aum_avg = score, snap.aum_avg
                row.value_tier = row.value_tier_computed = names_v[tier]
                row.card_tier = row.card_tier_computed = row.card_tier_held = names_c[card]
            row.save()
        elapsed = time.perf_counter() - t0
        transaction.set_rollback(True)
    return elapsed / sample


def main():
    name = connection.settings_dict["NAME"]
    if "bench" not in name:
        sys.exit(f"refusing {name!r}: run in a benchmark database (its name contains 'bench')")
    header("Segmentation: full runs on real Celery workers, what-if preview, ORM-loop comparison")
    as_of = services.latest_period()
    print(f"# as of {as_of:%Y-%m}", flush=True)

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

    policy = Policy.objects.get(status=PolicyStatus.PUBLISHED)
    t0 = time.perf_counter()
    preview = engine.preview(policy, as_of, today=timezone.localdate(), chunk_size=100_000)
    report("what-if preview over every customer", time.perf_counter() - t0, "s", target=15,
           note=f"{sum(r['customers'] for r in preview['value_tiers']):,} customers")

    sample = 20_000
    per_customer_orm = orm_loop(policy, as_of, sample)
    per_customer_engine = wall1 / run1.customers_done
    report("ORM loop, per customer (20,000 sample)", per_customer_orm * 1000, "ms")
    report("engine, per customer (full run, one worker)", per_customer_engine * 1000, "ms", fmt="{:.4f}")
    report("ORM loop / engine, per customer", per_customer_orm / per_customer_engine, "×", fmt="{:,.0f}",
           note=f"the ORM loop would take {per_customer_orm * run1.customers_done / 3600:.1f} h for every customer")
    save(__file__)


if __name__ == "__main__":
    main()
