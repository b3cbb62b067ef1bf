"""Every write of segmentation: ``<entity>_<verb>``, keyword-only, atomic, audited (core.audit.record)."""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from core import audit
from core.errors import Conflict, NotPermitted, ValidationFailed
from core.jobs import enqueue_on_commit
from customers.models import Customer, FinancialSnapshot
from org.access import api_key_of, scope_of, user_of
from org.permissions import can

from . import engine, rules, selectors
from .constants import PolicyStatus, RunStatus, RunTrigger, SegmentationEvent
from .models import Assignment, Figures, Override, Policy, Run

# ---- policies ------------------------------------------------------------------------------------------------
#
# A policy version goes draft → pending (submitted) → published → retired. At most one version is open (a draft
# or awaiting approval) at a time: ``policy_draft`` refuses a second one with Conflict (409) naming the open
# version, rather than quietly handing it back, so two head-office users never edit "a new draft" believing it
# to be theirs alone. Publishing retires the version in force in the same transaction. The writes that change
# which version is open or published take one transaction-level advisory lock, so two of them never interleave.

POLICY_FIELDS = (
    "note", *rules.WEIGHT_FIELDS, *rules.PYRAMID_FIELDS, "ranking_scope", *rules.THRESHOLD_FIELDS,
    "downgrade_after", "private_downgrade_after", "trend_months", "potential_aum_growth",
    "potential_income_growth", "potential_min_products", "potential_max_age", "lifecycle_change", "maturity_from",
    "exit_dormant_months", "exit_negative_months", "exit_non_performing",
    "important_contact_days", "secondary_contact_days", "ordinary_contact_days", "small_contact_days",
    "important_dedicated_rm", "secondary_dedicated_rm", "ordinary_dedicated_rm", "small_dedicated_rm",
    "important_channels", "secondary_channels", "ordinary_channels", "small_channels",
)  # what head office edits; everything else of a Policy is the workflow's
_POLICY_LOCK = (0x5E6, 1)  # pg_advisory_xact_lock(namespace, key): the policy workflow


def _lock_policies() -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", list(_POLICY_LOCK))


def _may_change_policies(actor) -> None:
    if not can(actor, "segmentation.change_policy"):
        raise NotPermitted()


def _locked_policy(policy: Policy) -> Policy:
    try:
        return Policy.objects.select_for_update().get(pk=policy.pk)
    except Policy.DoesNotExist:
        raise Conflict(_("This policy version no longer exists.")) from None


def _jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return list(value)
    return value


def _policy_values(policy: Policy) -> dict:
    return {f: getattr(policy, f) for f in POLICY_FIELDS}


def plain_numbers(values: dict) -> dict:
    """Decimals as people write them (19.00 → 19, 0.500 → 0.5), so the rules' messages read "104 %", not "104.00 %"."""
    def plain(value):
        if not isinstance(value, Decimal) or not value.is_finite():
            return value
        return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
    return {f: plain(v) for f, v in values.items()}


def policy_errors(policy: Policy) -> dict[str, list[str]]:
    """Field → messages for ``policy``'s settings: each field's own checks (type, range, choices), then the
    checks of the parts together (``rules.policy_problems``: shares add up to 100 %, thresholds rise, a weight
    above 0). Values are converted in place (e.g. "10" → Decimal)."""
    errors: dict[str, list[str]] = {}
    try:
        policy.clean_fields(exclude=[f.name for f in Policy._meta.fields if f.name not in POLICY_FIELDS])
    except ValidationError as e:
        errors = {field: list(messages) for field, messages in e.message_dict.items()}
    values = {f: getattr(policy, f) for f in POLICY_FIELDS if f not in errors}
    for field, message in rules.policy_problems(plain_numbers(values)).items():
        errors.setdefault(field, []).append(str(message))
    return errors


def _validate_policy(policy: Policy) -> None:
    if errors := policy_errors(policy):
        raise ValidationFailed(fields=errors)


def _set_values(policy: Policy, values: dict) -> None:
    unknown = sorted(set(values) - set(POLICY_FIELDS))
    if unknown:
        raise ValidationFailed(fields={name: [_("Not a setting of the policy.")] for name in unknown})
    for field, value in values.items():
        setattr(policy, field, value)


def _record(actor, event, policy: Policy, changes: dict) -> None:
    audit.record(type=event, obj=policy, user=user_of(actor), api_key=api_key_of(actor), changes=changes)


def _status_conflict(policy: Policy, message) -> Conflict:
    return Conflict(message % {"version": policy.version, "status": policy.get_status_display()})


@transaction.atomic
def policy_draft(*, actor, based_on: Policy | None = None, values: dict | None = None) -> Policy:
    """A new draft version (the highest version + 1) with the settings of ``based_on``, else of the published
    version, else the documented defaults; then ``values`` on top (checked like ``policy_update``). Refused
    (Conflict) while another version is a draft or awaits approval."""
    _may_change_policies(actor)
    _lock_policies()
    open_version = Policy.objects.filter(status__in=[PolicyStatus.DRAFT, PolicyStatus.PENDING]).first()
    if open_version is not None:
        raise _status_conflict(open_version, _("Version %(version)s is still open (%(status)s): change, submit "
                                               "or send back that one instead of starting another draft."))
    source = based_on or Policy.objects.filter(status=PolicyStatus.PUBLISHED).first()
    highest = Policy.objects.aggregate(highest=Max("version"))["highest"] or 0
    policy = Policy(version=highest + 1, status=PolicyStatus.DRAFT, created_by=user_of(actor))
    if source is not None:
        for field in POLICY_FIELDS:
            if field != "note":
                setattr(policy, field, getattr(source, field))
    _set_values(policy, values or {})
    _validate_policy(policy)
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError:  # a version written past the lock (e.g. the admin)
        raise Conflict(_("Another version was drafted at the same moment: reload the list.")) from None
    _record(actor, SegmentationEvent.POLICY_CREATED, policy, {
        "version": [None, policy.version], "based_on": [None, source.version if source else None]})
    return policy


@transaction.atomic
def policy_update(*, actor, policy: Policy, values: dict) -> Policy:
    """Change settings of a draft (only a draft: a version awaiting approval is sent back first). Every field
    is checked on its own and with the others; on any error nothing is written."""
    _may_change_policies(actor)
    locked = _locked_policy(policy)
    if locked.status != PolicyStatus.DRAFT:
        raise _status_conflict(locked, _("Only a draft can be changed; version %(version)s is %(status)s."))
    before = _policy_values(locked)
    _set_values(locked, values)
    _validate_policy(locked)
    after = _policy_values(locked)
    changes = {f: [_jsonable(before[f]), _jsonable(after[f])] for f in POLICY_FIELDS if before[f] != after[f]}
    if changes:
        locked.save()
        _record(actor, SegmentationEvent.POLICY_CHANGED, locked, changes)
    return locked


@transaction.atomic
def policy_submit(*, actor, policy: Policy) -> Policy:
    """A draft goes to approval (awaiting a second head-office user while four eyes is on)."""
    _may_change_policies(actor)
    locked = _locked_policy(policy)
    if locked.status != PolicyStatus.DRAFT:
        raise _status_conflict(locked, _("Only a draft can be submitted; version %(version)s is %(status)s."))
    _validate_policy(locked)
    locked.status, locked.submitted_by = PolicyStatus.PENDING, user_of(actor)
    locked.save(update_fields=["status", "submitted_by", "updated_at"])
    _record(actor, SegmentationEvent.POLICY_SUBMITTED, locked, {"status": [PolicyStatus.DRAFT, PolicyStatus.PENDING]})
    return locked


@transaction.atomic
def policy_approve(*, actor, policy: Policy, now: datetime) -> Policy:
    """Publish a version: the one in force is retired in the same transaction; runs from now on use this one.

    With four eyes (``SEGMENTATION_FOUR_EYES``, on by default) only a version awaiting approval is published,
    and only by a head-office user who neither drafted nor submitted it (a field error on ``approved_by``
    otherwise, and nothing changes). With four eyes off, the author may publish a draft directly."""
    _may_change_policies(actor)
    _lock_policies()
    locked = _locked_policy(policy)
    four_eyes = settings.SEGMENTATION_FOUR_EYES
    if locked.status == PolicyStatus.DRAFT and four_eyes:
        raise _status_conflict(locked, _("Version %(version)s is a draft: submit it for approval first."))
    if locked.status not in (PolicyStatus.DRAFT, PolicyStatus.PENDING):
        raise _status_conflict(locked, _("Only a version awaiting approval can be published; version %(version)s "
                                         "is %(status)s."))
    approver = user_of(actor)
    if four_eyes and approver.pk in (locked.created_by_id, locked.submitted_by_id):
        raise ValidationFailed(fields={"approved_by": [str(rules.SELF_APPROVAL)]})
    _validate_policy(locked)
    retired = Policy.objects.select_for_update().filter(status=PolicyStatus.PUBLISHED).first()
    if retired is not None:
        retired.status = PolicyStatus.RETIRED
        retired.save(update_fields=["status", "updated_at"])
    before = locked.status
    locked.status, locked.approved_by, locked.published_at = PolicyStatus.PUBLISHED, approver, now
    locked.submitted_by = locked.submitted_by or approver
    try:
        with transaction.atomic():
            locked.save(update_fields=["status", "approved_by", "published_at", "submitted_by", "updated_at"])
    except IntegrityError:  # segpolicy_one_published: a publication past the lock (e.g. the admin)
        raise Conflict(_("Another version was published at the same moment: reload and check.")) from None
    _record(actor, SegmentationEvent.POLICY_PUBLISHED, locked, {
        "status": [before, PolicyStatus.PUBLISHED],
        "published_version": [retired.version if retired else None, locked.version]})
    return locked


REJECT_REASON_MAX = 200


@transaction.atomic
def policy_reject(*, actor, policy: Policy, reason: str) -> Policy:
    """Send a version awaiting approval back to draft, saying why (kept in the audit event)."""
    _may_change_policies(actor)
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationFailed(fields={"reason": [_("Say what should change before it is submitted again.")]})
    if len(reason) > REJECT_REASON_MAX:
        raise ValidationFailed(fields={"reason": [_("At most %(max)s characters.") % {"max": REJECT_REASON_MAX}]})
    locked = _locked_policy(policy)
    if locked.status != PolicyStatus.PENDING:
        raise _status_conflict(locked, _("Only a version awaiting approval can be sent back; version %(version)s "
                                         "is %(status)s."))
    submitted_by = locked.submitted_by_id
    locked.status, locked.submitted_by = PolicyStatus.DRAFT, None
    locked.save(update_fields=["status", "submitted_by", "updated_at"])
    _record(actor, SegmentationEvent.POLICY_REJECTED, locked, {
        "status": [PolicyStatus.PENDING, PolicyStatus.DRAFT], "submitted_by": [submitted_by, None],
        "reason": [None, reason]})
    return locked


# ---- runs ----------------------------------------------------------------------------------------------------

def latest_period() -> date | None:
    """The newest month core banking has sent snapshots for: the default as-of month of a run."""
    return FinancialSnapshot.objects.order_by("-period").values_list("period", flat=True).first()


def run_start(*, actor=None, as_of: date | None = None, trigger: str = RunTrigger.MANUAL,
              queue: str | None = None, dispatch: bool = True) -> tuple[Run, bool]:
    """Start a run of the published policy for ``as_of`` (default: the newest snapshot month); ``actor`` None is
    the monthly schedule. Returns (run, started): a completed run for the same month and policy version is
    returned as it is (idempotent), without a second run. A run already running is refused ("already running").
    ``dispatch`` False: the caller takes the steps itself (the demo seeder, in its own process) instead of the
    workers."""
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
        if dispatch:
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


def compliance_refresh(*, today: dt.date, now: datetime) -> int | None:
    """Contact compliance of the run in force counted for ``today`` and stored in its ``Figures`` (one query over
    the run's rows, then one transaction): the supervisor view reads the sums. Returns the run's id (None without a
    run in force with stored figures). Safe to run twice."""
    run = Run.objects.select_related("policy").filter(is_current=True, figures_ready=True).first()
    if run is None:
        return None
    counted = selectors.contacted_per_group(run, today)
    with transaction.atomic():
        figures = list(Figures.objects.filter(run=run).only("pk", "branch_id", "rm_id", "value_tier"))
        for row in figures:
            row.contacted = counted.get((row.branch_id, row.rm_id, row.value_tier), 0)
        Figures.objects.bulk_update(figures, ["contacted"], batch_size=2000)
        Run.objects.filter(pk=run.pk).update(compliance_on=today, compliance_at=now)
    return run.pk


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
