"""Segmentation's part of the demo: a published policy and monthly runs over the last months of snapshots, so the
pyramid, the migration matrix and the downgrade watch show something real after ``make run``.

It writes no COPY rows: the runs go through the app's own service and engine (in this process, chunk by chunk,
as the Celery workers would), after the customers and their snapshots are loaded."""

from django.db import transaction
from django.utils import timezone

from org.constants import Role
from org.models import User
from segmentation import engine, services
from segmentation.constants import PolicyStatus, RunTrigger
from segmentation.models import Policy

NEXT_IDS: dict = {}
COPY_TABLES: list = []
TABLES = ["segmentation_assignment", "segmentation_run"]
RUNS = 3  # monthly runs over the newest months


def prepare(ctx, *, n_rms, log):
    """Nothing up front: the policy needs the head-office logins the org part creates."""


def chunk(ctx, index, offset, n, ids):
    return []


def finish(ctx, *, log, chunk_size: int = 100_000) -> None:
    """Publish the default policy (drafted and approved by two head-office users) and classify the newest
    ``RUNS`` months, oldest first, so each run carries the previous one's hysteresis."""
    if not Policy.objects.filter(status=PolicyStatus.PUBLISHED).exists():
        publish_default_policy()
    for as_of in ctx.periods[-RUNS:]:
        run, started = services.run_start(as_of=as_of, trigger=RunTrigger.SCHEDULE, dispatch=False)
        if not started:
            continue
        chunks = services.run_prepare(run_id=run.pk)
        for index, (lo, hi) in enumerate(chunks):
            engine.run_chunk(run.pk, index, lo, hi, today=ctx.today)
        run.refresh_from_db()
        log(f"segmentation run {as_of:%Y-%m}: {run.status}, {run.customers_done:,} customers")
    now = timezone.now()  # what the quarter-hourly task does: the supervisor view's compliance counted for today
    services.compliance_refresh(today=timezone.localdate(now), now=now)


@transaction.atomic
def publish_default_policy() -> Policy:
    author, approver = User.objects.filter(role=Role.HEAD_OFFICE).order_by("id")[:2]
    policy = services.policy_draft(actor=author)
    services.policy_submit(actor=author, policy=policy)
    return services.policy_approve(actor=approver, policy=policy, now=timezone.now())
