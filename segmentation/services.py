"""Every write of segmentation: ``<entity>_<verb>``, keyword-only, atomic, audited (core.audit.record)."""

from __future__ import annotations

import datetime as dt
from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core import audit
from core.errors import Conflict, NotPermitted, ValidationFailed
from core.jobs import enqueue_on_commit
from customers.models import Customer, FinancialSnapshot
from org.access import api_key_of, scope_of, user_of
from org.permissions import can

from . import engine, rules
from .constants import PolicyStatus, RunStatus, RunTrigger, SegmentationEvent
from .models import Assignment, Override, Policy, Run

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

# An override is in force up to the day before ``expires_on``: on that day ``overrides_expire`` ends it.

OVERRIDE_CODE = "override"


def _in_scope(actor, customer_id: int) -> bool:
    return scope_of(actor).filter(Customer.objects.filter(pk=customer_id), branch="branch_id", rm="rm_id").exists()


def _check_override_actor(actor, customer_id: int) -> None:
    """Supervisors (their subtree) and head office; pages and the API fetch the customer through the scoped
    selectors first, so a customer out of scope is a 404 there before it is refused here."""
    if not can(actor, "segmentation.override_tier") or not _in_scope(actor, customer_id):
        raise NotPermitted()


def _current_row(customer_id: int) -> Assignment | None:
    """The run in force's row of the customer, locked (None before the first run or for a customer it missed)."""
    return (Assignment.objects.select_for_update(of=("self",))
            .filter(run__in=Run.objects.filter(is_current=True), customer_id=customer_id).first())


def _tiers(row: Assignment | None) -> dict:
    return {"value_tier": row.value_tier, "card_tier": row.card_tier} if row is not None else {}


def _pin(row: Assignment, override: Override) -> None:
    row.value_tier = override.value_tier or row.value_tier_computed
    row.card_tier = override.card_tier or row.card_tier_held
    row.overridden = True
    row.reasons = [*[c for c in row.reasons if c != OVERRIDE_CODE], OVERRIDE_CODE]
    row.save(update_fields=["value_tier", "card_tier", "overridden", "reasons"])


def _unpin(row: Assignment) -> None:
    """Back to the engine's result: the computed value tier and the card tier its hysteresis holds."""
    row.value_tier = row.value_tier_computed
    row.card_tier = row.card_tier_held
    row.overridden = False
    row.reasons = [c for c in row.reasons if c != OVERRIDE_CODE]
    row.save(update_fields=["value_tier", "card_tier", "overridden", "reasons"])


def _changes(before: dict, after: dict, **extra) -> dict:
    changes = {f: [before.get(f, ""), after.get(f, "")] for f in ("value_tier", "card_tier")
               if before.get(f, "") != after.get(f, "")}
    changes.update({f: list(v) for f, v in extra.items()})
    return changes


def override_set(*, actor, customer: Customer, value_tier: str, card_tier: str, reason: str, expires_on: dt.date,
                 today: dt.date) -> Override:
    """Pin a customer's value tier, card tier or both until ``expires_on`` (at most
    ``SEGMENTATION_OVERRIDE_MAX_DAYS`` days ahead), with a reason. An active override of the customer is replaced
    (the event keeps its values as the old ones); the run in force's row changes at once (the tier in force,
    ``overridden``, the "override" reason). Audited (``OVERRIDE_SET``, on the customer)."""
    _check_override_actor(actor, customer.pk)
    value_tier, card_tier, reason = value_tier or "", card_tier or "", (reason or "").strip()
    problems = rules.override_problems(reason=reason, expires_on=expires_on, value_tier=value_tier,
                                       card_tier=card_tier, today=today,
                                       max_days=settings.SEGMENTATION_OVERRIDE_MAX_DAYS)
    if problems:
        raise ValidationFailed(fields={f: [m] for f, m in problems.items()})
    user = user_of(actor)
    if user is None:
        raise NotPermitted()  # an override names the supervisor who set it
    with transaction.atomic():
        locked = Customer.objects.select_for_update(of=("self",)).get(pk=customer.pk)
        previous = Override.objects.select_for_update().filter(customer=locked, ended_at__isnull=True).first()
        if previous is not None:
            previous.ended_at, previous.ended_by = timezone.now(), user
            previous.save(update_fields=["ended_at", "ended_by"])
        override = Override.objects.create(customer=locked, value_tier=value_tier, card_tier=card_tier,
                                           reason=reason, expires_on=expires_on, created_by=user)
        row = _current_row(locked.pk)
        before = _tiers(row)
        if row is not None:
            _pin(row, override)
        extra = {"reason": [previous.reason if previous else "", reason],
                 "expires_on": [previous.expires_on.isoformat() if previous else "", expires_on.isoformat()],
                 "override": [previous.pk if previous else None, override.pk]}
        after = _tiers(row) if row is not None else {"value_tier": value_tier, "card_tier": card_tier}
        audit.record(type=SegmentationEvent.OVERRIDE_SET, obj=locked, user=user,
                     changes=_changes(before, after, **extra))
    return override


def _end(override: Override, *, ended_by, event: str) -> None:
    override.ended_at, override.ended_by = timezone.now(), ended_by
    override.save(update_fields=["ended_at", "ended_by"])
    row = _current_row(override.customer_id)
    before = _tiers(row)
    if row is not None and row.overridden:
        _unpin(row)
    audit.record(type=event, obj=override.customer, user=ended_by, changes=_changes(
        before, _tiers(row), reason=[override.reason, ""], expires_on=[override.expires_on.isoformat(), ""],
        override=[override.pk, None]))


def override_end(*, actor, override: Override) -> Override:
    """End an active override before its expiry: the run in force's row goes back to the engine's tiers.
    Audited (``OVERRIDE_ENDED``). An override already ended is a Conflict."""
    _check_override_actor(actor, override.customer_id)
    user = user_of(actor)
    if user is None:
        raise NotPermitted()
    with transaction.atomic():
        locked = Override.objects.select_for_update(of=("self",)).select_related("customer").get(pk=override.pk)
        if locked.ended_at is not None:
            raise Conflict()
        _end(locked, ended_by=user, event=SegmentationEvent.OVERRIDE_ENDED)
    return locked


def overrides_expire(*, today: dt.date) -> int:
    """End every active override whose expiry day has come (``expires_on`` ≤ ``today``): each in its own
    transaction, audited (``OVERRIDE_EXPIRED``, by nobody), the run in force's row back to the computed tiers
    with the hysteresis the engine kept (``card_tier_held``). Safe to run twice; returns how many ended."""
    ended = 0
    due = list(Override.objects.filter(ended_at__isnull=True, expires_on__lte=today).values_list("pk", flat=True))
    for pk in due:
        with transaction.atomic():
            locked = (Override.objects.select_for_update(of=("self",), skip_locked=True).select_related("customer")
                      .filter(pk=pk, ended_at__isnull=True, expires_on__lte=today).first())
            if locked is None:
                continue  # ended meanwhile, or being ended by someone else
            _end(locked, ended_by=None, event=SegmentationEvent.OVERRIDE_EXPIRED)
            ended += 1
    return ended
