"""Every write of segmentation: ``<entity>_<verb>``, keyword-only, atomic, audited (core.audit.record)."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core import audit
from core.errors import Conflict, NotPermitted, ValidationFailed
from core.jobs import enqueue_on_commit
from customers.models import FinancialSnapshot
from org.access import api_key_of, user_of
from org.permissions import can

from . import engine
from .constants import PolicyStatus, RunStatus, RunTrigger, SegmentationEvent
from .models import Policy, Run

# ---- policies ------------------------------------------------------------------------------------------------


# ---- runs ----------------------------------------------------------------------------------------------------

def latest_period() -> date | None:
    """The newest month core banking has sent snapshots for: the default as-of month of a run."""
    return FinancialSnapshot.objects.order_by("-period").values_list("period", flat=True).first()


def run_start(*, actor=None, as_of: date | None = None, trigger: str = RunTrigger.MANUAL,
              queue: str | None = None) -> tuple[Run, bool]:
    """Start a run of the published policy for ``as_of`` (default: the newest snapshot month); ``actor`` None is
    the monthly schedule. Returns (run, started): a completed run for the same month and policy version is
    returned as it is (idempotent), without a second run. A run already running is refused ("already running")."""
    if actor is not None and not can(actor, "segmentation.start_run"):
        raise NotPermitted()
    as_of = as_of or latest_period()
    if as_of is None:
        raise ValidationFailed(_("There are no snapshots yet: core banking has not sent a month to classify."),
                               field="as_of")
    if as_of.day != 1:
        raise ValidationFailed(_("Give the month as its first day."), field="as_of")
    with transaction.atomic():
        policy = Policy.objects.filter(status=PolicyStatus.PUBLISHED).first()
        if policy is None:
            raise ValidationFailed(_("No policy is published yet: publish one before the first run."),
                                   field="policy")
        done = Run.objects.filter(as_of=as_of, policy=policy, status=RunStatus.DONE).first()
        if done is not None:
            return done, False
        try:
            with transaction.atomic():
                run = Run.objects.create(as_of=as_of, policy=policy, trigger=trigger, triggered_by=user_of(actor))
        except IntegrityError:
            running = Run.objects.filter(status=RunStatus.RUNNING).first()
            raise Conflict(_("A segmentation run is already running (started %(when)s); wait for it to finish.")
                           % {"when": running.started_at.strftime("%Y-%m-%d %H:%M") if running else "-"}) from None
        audit.record(type=SegmentationEvent.RUN_STARTED, obj=run, user=user_of(actor), api_key=api_key_of(actor),
                     changes={"as_of": [None, as_of.isoformat()], "policy": [None, policy.version]})
        from . import tasks  # the task module imports this one

        queue = queue or settings.SEGMENTATION_QUEUE
        enqueue_on_commit(tasks.run_prepare, run.pk, queue, queue=queue)
    return run, True


def run_prepare(*, run_id: int) -> list[tuple[int, int]]:
    """Step 1 of a run (engine.start); an empty book finishes at once."""
    run = Run.objects.select_related("policy").get(pk=run_id)
    if run.status != RunStatus.RUNNING:
        return []
    chunks = engine.start(run, chunk_size=settings.SEGMENTATION_CHUNK_SIZE)
    if not chunks:
        with transaction.atomic():
            engine.finish(run)
    return chunks


def runs_sweep(*, now) -> list[int]:
    """Runs whose workers stopped answering (no heartbeat for SEGMENTATION_HEARTBEAT_TIMEOUT_MINUTES) are marked
    failed with the reason; the run in force stays in force."""
    limit = now - timedelta(minutes=settings.SEGMENTATION_HEARTBEAT_TIMEOUT_MINUTES)
    stale = list(Run.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=limit).values_list("pk", flat=True))
    stale += Run.objects.filter(status=RunStatus.RUNNING, heartbeat_at__isnull=True, started_at__lt=limit) \
        .values_list("pk", flat=True)
    for run_id in stale:
        engine.fail(run_id, _("No worker reported progress for %(minutes)s minutes: the run was stopped.")
                    % {"minutes": settings.SEGMENTATION_HEARTBEAT_TIMEOUT_MINUTES})
    return stale


# ---- overrides -----------------------------------------------------------------------------------------------
