"""Writes of complaints: intake, every status change through the one transition table, messages and notes, the
handler. Each runs in one transaction with the complaint locked, checks the expected version (two people changing
one complaint: one wins, the other gets a conflict), keeps the service clock's runs, recomputes both clocks, writes
the timeline and an audit event.

Instants are aware datetimes; ``now`` is a parameter. The service clock is counted by complaints.rules over the
complaint's ``ClockRun`` intervals and the branch's working calendar (org)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core import audit
from core.errors import Conflict, NotPermitted, ValidationFailed
from customers import services as customer_services
from customers.models import Customer
from customers.rules import mask_mobile
from org.access import (
    api_key_of,
    complaint_scope_of,
    is_head_office,
    is_supervisor,
    may_handle_complaint,
    sees_complainant,
    user_of,
)
from org.constants import PiiField
from org.models import Branch
from org.permissions import can
from org.rules import epoch
from org.services import pii_access_record

from . import rules, selectors
from .constants import Action, Channel, ComplaintAudit, EscalationLevel, EventKind, Priority, SlaState, Status
from .models import Category, ClockRun, Complaint, ComplaintEvent, Extension, SlaPolicy

STATE_ORDER = [SlaState.MET, SlaState.ON_TRACK, SlaState.PAUSED, SlaState.AT_RISK, SlaState.BREACHED]


def _event(complaint: Complaint, actor, kind: str, now: dt.datetime, **fields) -> ComplaintEvent:
    key = api_key_of(actor)
    return ComplaintEvent.objects.create(complaint=complaint, at=now, kind=kind, actor=user_of(actor),
                                         api_key_id=str(key.pk) if key else "", **fields)


def _audit(complaint: Complaint, actor, kind: str, changes: dict) -> None:
    audit.record(type=kind, obj=complaint, user=user_of(actor), api_key=api_key_of(actor), changes=changes)


def _moment(value: dt.datetime | None) -> int | None:
    return epoch(value) if value is not None else None


def _from_epoch(value: int | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(int(value), dt.UTC)


def choose_policy(*, priority: str, channel: str, category: Category) -> SlaPolicy:
    """The most specific active policy for these criteria (rules.choose_policy), else the default policy."""
    policies = selectors.active_policies()
    keys = [rules.PolicyKey(id=p.pk, priority=p.priority or None, channel=p.channel or None,
                            category=p.category_id) for p in policies if not p.is_default]
    chosen = rules.choose_policy(keys, priority=priority, channel=channel, category=category.pk,
                                 category_parent=category.parent_id)
    by_id = {p.pk: p for p in policies}
    if chosen is not None:
        return by_id[chosen]
    default = next((p for p in policies if p.is_default), None)
    if default is None:
        raise Conflict(_("No default SLA policy is active: head office must set one up."))
    return default


def refresh_clocks(complaint: Complaint, *, now: dt.datetime, clock=None) -> None:
    """Both clocks of ``complaint`` from its runs, its policy, its branch's calendar and its regulatory extensions
    and pauses (the caller saves): due times, SLA state, the provisional flag, the regulatory deadline. ``clock``:
    (calendar, business clock) of its branch over its days, when the caller has them."""
    calendar, clock = clock or selectors.business_clock(complaint.branch, complaint.received_at)
    runs = [(epoch(r.started_at), _moment(r.ended_at)) for r in complaint.clock_runs.all()]
    policy, at = complaint.policy, epoch(now)
    first = rules.service_clock(runs, target=policy.first_response_seconds, mode=policy.first_response_mode,
                                clock=clock, now=at, met_at=_moment(complaint.first_responded_at))
    met_at = _moment(complaint.resolved_at or complaint.withdrawn_at)
    resolution = rules.service_clock(runs, target=policy.resolution_seconds, mode=policy.resolution_mode,
                                     clock=clock, now=at, met_at=met_at)
    # a due time stays shown once met or breached (the deadline that was); it is none while the clock is held
    if first.due is not None or first.state == SlaState.PAUSED:
        complaint.first_response_due = _from_epoch(first.due)
    if resolution.due is not None or resolution.state == SlaState.PAUSED:
        complaint.resolution_due = _from_epoch(resolution.due)
    states = [resolution.state] + ([first.state] if complaint.first_responded_at is None else [])
    if complaint.withdrawn_at is not None:
        states = [SlaState.MET]
    complaint.sla_state = max(states, key=STATE_ORDER.index)
    received = timezone.localtime(complaint.received_at).date()
    complaint.regulatory_due_date = rules.regulatory_due_date(
        received, calendar, extensions=complaint.extensions, paused_days=complaint.regulatory_paused_days,
        roll_forward=settings.COMPLAINTS_REGULATORY_ROLL_FORWARD, review=complaint.review_of_id is not None)
    due_days = [d for d in (complaint.resolution_due, complaint.first_response_due) if d is not None]
    complaint.calendar_provisional = any(calendar.provisional(timezone.localtime(d).date()) for d in due_days) or \
        calendar.provisional(complaint.regulatory_due_date) or calendar.provisional(received)


# ---- intake --------------------------------------------------------------------------------------------------------

INTAKE_FIELDS = ("customer", "complainant_name", "complainant_phone", "complainant_email", "branch", "channel",
                 "category", "description", "received_at", "complainants", "priority")


def _intake_checks(actor, *, customer: Customer | None, branch: Branch | None, complainant_name: str,
                   complainant_phone: str, complainant_email: str, category: Category | None, description: str,
                   received_at: dt.datetime | None, complainants: int, now: dt.datetime) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if customer is None:
        if not complainant_name.strip():
            errors["complainant_name"] = [_("Name the complainant, or choose the customer.")]
        if not (complainant_phone.strip() or complainant_email.strip()):
            errors["complainant_phone"] = [_("Give a phone number or an email to reach an unidentified "
                                             "complainant.")]
        if branch is None:
            errors["branch"] = [_("Choose the branch that handles the complaint.")]
    if category is None or not category.active:
        errors["category"] = [_("Choose a category in use.")]
    if not description.strip():
        errors["description"] = [_("Describe the complaint.")]
    if received_at is None:
        errors["received_at"] = [_("Enter when the bank received the complaint.")]
    elif received_at > now:
        errors["received_at"] = [_("The time received cannot be in the future.")]
    if complainants < 1:
        errors["complainants"] = [_("At least one complainant.")]
    if branch is not None and not complaint_scope_of(actor).may_place(branch.pk):
        errors["branch"] = [_("Choose a branch within your scope.")]
    return errors


@transaction.atomic
def complaint_open(*, actor, channel: str, category: Category | None, description: str,
                   received_at: dt.datetime | None, now: dt.datetime, customer: Customer | None = None,
                   branch: Branch | None = None, complainant_name: str = "", complainant_phone: str = "",
                   complainant_email: str = "", complainants: int = 1, priority: str = Priority.NORMAL) -> Complaint:
    """Record a complaint: for a customer the actor may see (the customer's branch handles it unless another is
    chosen), or for an unidentified complainant with contact data. Twenty or more people in person make a major
    complaint: urgent, escalated to head office at once. The SLA policy is the most specific active one; the
    service clock starts at receipt (in working time: at the next working minute)."""
    if not can(actor, "complaints.add_complaint"):
        raise NotPermitted(_("You may not record complaints."))
    if customer is not None:
        try:
            customer = selectors.complainable_customers(actor).select_related("branch").get(pk=customer.pk)
        except Customer.DoesNotExist:
            raise NotPermitted from None
        branch = branch or customer.branch
    errors = _intake_checks(actor, customer=customer, branch=branch, complainant_name=complainant_name,
                            complainant_phone=complainant_phone, complainant_email=complainant_email,
                            category=category, description=description, received_at=received_at,
                            complainants=complainants, now=now)
    if errors:
        raise ValidationFailed(fields=errors)
    major = rules.is_major(complainants, channel)
    complaint = Complaint(
        number=f"TMP-{epoch(now)}", customer=customer, branch=branch, channel=channel, category=category,
        description=description.strip(), received_at=received_at, complainants=complainants, major=major,
        priority=Priority.URGENT if major else priority, complainant_name=complainant_name.strip(),
        complainant_phone=complainant_phone.strip(), complainant_email=complainant_email.strip(),
        created_by=user_of(actor), escalation_level=rules.initial_escalation(major),
        policy=choose_policy(priority=Priority.URGENT if major else priority, channel=channel, category=category),
        regulatory_due_date=timezone.localtime(received_at).date())
    try:
        complaint.full_clean(exclude=["number", "policy", "category", "branch", "customer"])
    except DjangoValidationError as invalid:
        raise ValidationFailed(fields=invalid.message_dict) from None
    complaint.save()
    complaint.number = f"TS{timezone.localtime(received_at):%Y%m%d}{complaint.pk:06d}"
    ClockRun.objects.create(complaint=complaint, started_at=received_at)
    complaint.running_since = received_at
    refresh_clocks(complaint, now=now)
    complaint.save()
    _event(complaint, actor, EventKind.TRANSITION, now, to_status=Status.NEW,
           data={"major": major, "policy": complaint.policy_id})
    _audit(complaint, actor, ComplaintAudit.OPENED, {"number": [None, complaint.number], "status": [None, Status.NEW]})
    return complaint


# ---- the workflow --------------------------------------------------------------------------------------------------

WORK = "complaints.work_complaint"


def _locked(actor, complaint: Complaint, version: int | None, perm: str | None = WORK) -> Complaint:
    """The complaint, locked, in the actor's scope (else not found) and that the actor may change with ``perm``;
    a stale ``version`` is a conflict."""
    try:
        current = (selectors.complaints_visible_to(actor).select_for_update(of=("self",))
                   .select_related("policy", "branch", "category").get(pk=complaint.pk))
    except Complaint.DoesNotExist:
        raise NotPermitted from None
    if perm is not None and not can(actor, perm, current):
        raise NotPermitted(_("You may not change this complaint."))
    if version is not None and version != current.version:
        raise Conflict(_("Someone else changed this complaint meanwhile: reload it and try again."))
    return current


def _close_run(complaint: Complaint, now: dt.datetime) -> None:
    ClockRun.objects.filter(complaint=complaint, ended_at__isnull=True).update(ended_at=now)
    complaint.running_since = None


def _open_run(complaint: Complaint, now: dt.datetime) -> None:
    if not ClockRun.objects.filter(complaint=complaint, ended_at__isnull=True).exists():
        ClockRun.objects.create(complaint=complaint, started_at=now)
    complaint.running_since = now


@transaction.atomic
def complaint_act(*, actor, complaint: Complaint, action: str, now: dt.datetime, note: str = "",
                  version: int | None = None, resolution_summary: str = "", root_cause: str = "", remedy: str = "",
                  remedies_told: bool = False) -> Complaint:
    """Move ``complaint`` by ``action`` if the transition table allows it from its status (else a conflict naming
    both), keeping the clocks: waiting for the customer holds the service clock (the regulator's runs on), resuming
    restarts it and records the time held, resolving stops it (and is the decision for the regulator), reopening
    resumes it where it stood, a withdrawal ends both clocks. Closing needs the resolution summary, root cause,
    remedy and the record that the customer was told of further remedies."""
    complaint = _locked(actor, complaint, version)
    source = complaint.status
    target = rules.next_status(source, action)
    if target is None:
        raise Conflict(_("A complaint that is “%(status)s” cannot be “%(action)s”.") % {
            "status": Status(source).label, "action": Action(action).label if action in Action.values else action})
    changes: dict = {"status": [source, target]}
    if action == Action.CLOSE:
        missing = rules.close_problems(resolution_summary=resolution_summary, root_cause=root_cause, remedy=remedy,
                                       remedies_told=remedies_told)
        if missing:
            raise ValidationFailed(fields={name: [CLOSE_MESSAGES[name]] for name in missing})
        complaint.resolution_summary, complaint.root_cause = resolution_summary.strip(), root_cause.strip()
        complaint.remedy, complaint.remedies_told, complaint.closed_at = remedy.strip(), True, now
    if action in (Action.WAIT_CUSTOMER, Action.RESOLVE, Action.WITHDRAW):
        _close_run(complaint, now)
    if action == Action.RESUME:
        last = complaint.clock_runs.order_by("-started_at").first()
        if last is not None and last.ended_at is not None:
            _calendar, clock = selectors.business_clock(complaint.branch, complaint.received_at)
            held = int(clock.business_seconds(epoch(last.ended_at), epoch(now)))
            complaint.paused_seconds += held
            changes["paused_seconds"] = [complaint.paused_seconds - held, complaint.paused_seconds]
        _open_run(complaint, now)
    if action == Action.REOPEN:
        complaint.resolved_at = complaint.closed_at = None
        _open_run(complaint, now)
    if action == Action.RESOLVE:
        complaint.resolved_at = now
        complaint.decided_on = timezone.localtime(now).date()
    if action == Action.WITHDRAW:
        complaint.withdrawn_at = now
    if action in (Action.ACKNOWLEDGE, Action.RESOLVE) and complaint.first_responded_at is None:
        complaint.first_responded_at = now  # acknowledging, or telling the decision, is the first response
    complaint.status = target
    complaint.version += 1
    refresh_clocks(complaint, now=now)
    complaint.save()
    _event(complaint, actor, EventKind.TRANSITION, now, from_status=source, to_status=target, text=note.strip(),
           data={"action": action})
    _audit(complaint, actor, ComplaintAudit.STATUS_CHANGED, {"action": [None, action], **changes})
    if action == Action.RESOLVE:
        _satisfaction_call(complaint, actor, now)
    return complaint


def satisfaction_call_key(complaint: Complaint) -> str:
    return f"complaint-satisfaction:{complaint.pk}"


def _satisfaction_call(complaint: Complaint, actor, now: dt.datetime) -> None:
    """The customer's RM calls to ask how the customer found the resolution (DOMAIN.md §5): a task due
    ``CARE_SATISFACTION_CALL_DAYS`` after the decision, created in the transaction that resolves the complaint, once
    per complaint (the task's unique key): resolved again after a reopening, the first call stands. None for a
    complainant who is not a customer or a customer without an RM; a re-check (核查) is a complaint of its own."""
    if complaint.customer_id is None:
        return
    customer = Customer.objects.only("name").get(pk=complaint.customer_id)
    due = rules.satisfaction_call_due(complaint.decided_on, settings.CARE_SATISFACTION_CALL_DAYS)
    with translation.override(settings.LANGUAGE_CODE):  # the RM's task list: the bank's language, as the care jobs'
        title = _("Satisfaction call: complaint %(number)s of %(name)s resolved") % {
            "number": complaint.number, "name": customer.name}
    task = customer_services.task_schedule_once(key=satisfaction_call_key(complaint),
                                                customer_id=complaint.customer_id, title=title, due_date=due)
    if task is not None:
        _event(complaint, actor, EventKind.CHANGED, now, data={"satisfaction_call": task.pk},
               text=_("Satisfaction call for the customer's relationship manager, due %(day)s.") % {
                   "day": due.isoformat()})


CLOSE_MESSAGES = {
    rules.SUMMARY: _("Summarise the resolution."),
    rules.ROOT_CAUSE: _("Give the root cause."),
    rules.REMEDY: _("Describe the remedy."),
    rules.REMEDIES_TOLD: _("Record that the customer was told of further remedies (re-check, mediation, "
                           "arbitration, litigation)."),
}


@transaction.atomic
def complaint_message(*, actor, complaint: Complaint, text: str, outgoing: bool, now: dt.datetime,
                      version: int | None = None) -> Complaint:
    """A message exchanged with the customer, on the timeline. The bank's first message to the customer meets the
    first-response target; it never meets resolution."""
    if not text.strip():
        raise ValidationFailed(fields={"text": [_("Write the message.")]})
    complaint = _locked(actor, complaint, version)
    if complaint.status in (Status.CLOSED, Status.WITHDRAWN):
        raise Conflict(_("The complaint is no longer open."))
    if outgoing and complaint.first_responded_at is None:
        complaint.first_responded_at = now
    complaint.version += 1
    refresh_clocks(complaint, now=now)
    complaint.save()
    _event(complaint, actor, EventKind.MESSAGE, now, text=text.strip(), data={"outgoing": outgoing})
    return complaint


@transaction.atomic
def complaint_note(*, actor, complaint: Complaint, text: str, now: dt.datetime) -> ComplaintEvent:
    """An internal note: kept inside the bank, apart from the messages with the customer."""
    if not text.strip():
        raise ValidationFailed(fields={"text": [_("Write the note.")]})
    complaint = _locked(actor, complaint, None, "complaints.note_complaint")
    return _event(complaint, actor, EventKind.NOTE, now, text=text.strip())



# ---- the regulator's clock: extensions and holds ---------------------------------------------------------------

@transaction.atomic
def extension_request(*, actor, complaint: Complaint, reason: str, now: dt.datetime) -> Extension:
    """Ask to extend the regulator's deadline (to 30 days, then a further 30) with the reason; it takes effect when
    approved. One request at a time; a complaint already decided or withdrawn cannot be extended."""
    complaint = _locked(actor, complaint, None)
    if complaint.status not in rules.OPEN:
        raise Conflict(_("Only an open complaint's deadline can be extended."))
    if complaint.extensions >= len(rules.REGULATORY_DAYS) - 1:
        raise Conflict(_("The deadline has been extended twice already: 60 days is the most the rules allow."))
    if complaint.extension_requests.filter(state=Extension.State.REQUESTED).exists():
        raise Conflict(_("An extension is already awaiting approval."))
    if not reason.strip():
        raise ValidationFailed(fields={"reason": [_("Give the reason for the extension.")]})
    key = api_key_of(actor)
    extension = Extension.objects.create(complaint=complaint, number=complaint.extensions + 1, reason=reason.strip(),
                                         requested_by=user_of(actor), requested_by_key=str(key.pk) if key else "",
                                         requested_at=now)
    _event(complaint, actor, EventKind.EXTENSION, now, text=extension.reason,
           data={"number": extension.number, "state": Extension.State.REQUESTED})
    return extension


@transaction.atomic
def extension_decide(*, actor, extension: Extension, approve: bool, now: dt.datetime,
                     complainant_told: bool = False, note: str = "") -> Extension:
    """Approve or refuse an extension. The first is approved by a supervisor of the complaint's branch (or above)
    or head office, the second by the superior branch or head office; never by who asked for it; an approval needs
    the record that the complainant was told. Approved, the regulator's deadline moves to 30 (60) days."""
    complaint = _locked(actor, extension.complaint, None, None)
    extension = Extension.objects.select_for_update().get(pk=extension.pk)
    if extension.state != Extension.State.REQUESTED:
        raise Conflict(_("This extension has been decided already."))
    approver = user_of(actor)
    allowed = approver is not None and approver.pk != extension.requested_by_id and (
        is_head_office(approver) or is_supervisor(approver)) and rules.may_approve_extension(
        extension.number, head_office=is_head_office(approver),
        approver_path=approver.branch.path if approver.branch_id else None, complaint_path=complaint.branch.path)
    if not allowed:
        raise NotPermitted(_("The first extension is approved by a supervisor of the branch, the second by the "
                             "superior branch or head office, and never by who asked for it."))
    if approve and not complainant_told:
        raise ValidationFailed(fields={"complainant_told": [_("Record that the complainant was told of the "
                                                              "extension.")]})
    extension.state = Extension.State.APPROVED if approve else Extension.State.REFUSED
    extension.decided_by, extension.decided_at, extension.complainant_told = approver, now, complainant_told
    extension.save()
    if approve:
        complaint.extensions = extension.number
        complaint.version += 1
        refresh_clocks(complaint, now=now)
        complaint.save()
    _event(complaint, actor, EventKind.EXTENSION, now, text=note.strip(),
           data={"number": extension.number, "state": extension.state,
                 "regulatory_due_date": complaint.regulatory_due_date.isoformat()})
    _audit(complaint, actor, ComplaintAudit.EXTENSION_DECIDED,
           {"extension": [None, extension.number], "state": [Extension.State.REQUESTED, extension.state]})
    return extension


@transaction.atomic
def regulatory_hold(*, actor, complaint: Complaint, held: bool, now: dt.datetime, note: str = "") -> Complaint:
    """An external appraisal or mediation starts (``held``) or ends: the only thing that holds the regulator's
    clock (waiting for the customer does not). The calendar days it held are added to the deadline."""
    complaint = _locked(actor, complaint, None)
    today = timezone.localtime(now).date()
    if complaint.status not in rules.OPEN:
        raise Conflict(_("The complaint is no longer open."))
    if held == (complaint.regulatory_held_since is not None):
        raise Conflict(_("An appraisal or mediation is already under way.") if held
                       else _("No appraisal or mediation is under way."))
    if not note.strip():
        raise ValidationFailed(fields={"note": [_("Say which appraisal or mediation, and that the complainant was "
                                                  "told.")]})
    if held:
        complaint.regulatory_held_since = today
    else:
        complaint.regulatory_paused_days += (today - complaint.regulatory_held_since).days
        complaint.regulatory_held_since = None
    complaint.version += 1
    refresh_clocks(complaint, now=now)
    complaint.save()
    _event(complaint, actor, EventKind.CLOCK, now, text=note.strip(),
           data={"regulatory_hold": held, "regulatory_due_date": complaint.regulatory_due_date.isoformat()})
    return complaint


# ---- satisfaction -------------------------------------------------------------------------------------------------

DISSATISFIED = 2  # a score at or below this is a dissatisfied answer


@transaction.atomic
def satisfaction_record(*, actor, complaint: Complaint, score: int, now: dt.datetime, note: str = "",
                        follow_up: str = "reopen") -> Complaint:
    """The customer's satisfaction (1–5), asked after resolution. A dissatisfied answer (1 or 2) reopens the
    complaint (``follow_up="reopen"``) or gives the customer's RM a follow-up task (``"task"``)."""
    complaint = _locked(actor, complaint, None)
    if complaint.status not in (Status.RESOLVED, Status.CLOSED):
        raise Conflict(_("Satisfaction is asked once the complaint is resolved."))
    if not isinstance(score, int) or not 1 <= score <= 5:
        raise ValidationFailed(fields={"score": [_("Give a score from 1 (very dissatisfied) to 5 (very satisfied).")]})
    if follow_up not in ("reopen", "task"):
        raise ValidationFailed(fields={"follow_up": [_("Choose to reopen the complaint or to create a task.")]})
    if score <= DISSATISFIED and follow_up == "task" and complaint.customer_id is None:
        raise ValidationFailed(fields={"follow_up": [_("A follow-up task needs an identified customer: reopen the "
                                                       "complaint instead.")]})
    old = complaint.satisfaction
    complaint.satisfaction, complaint.satisfaction_note = score, note.strip()[:500]
    complaint.version += 1
    complaint.save(update_fields=["satisfaction", "satisfaction_note", "version"])
    _event(complaint, actor, EventKind.SATISFACTION, now, text=complaint.satisfaction_note, data={"score": score})
    _audit(complaint, actor, ComplaintAudit.SATISFACTION, {"satisfaction": [old, score]})
    with translation.override(settings.LANGUAGE_CODE):  # the RM's satisfaction call is answered: it closes
        customer_services.task_close_by_key(key=satisfaction_call_key(complaint), now=now, outcome=_(
            "Satisfaction recorded in the complaint: %(score)s/5") % {"score": score})
    if score <= DISSATISFIED:
        if follow_up == "reopen":
            return complaint_act(actor=actor, complaint=complaint, action=Action.REOPEN, now=now,
                                 note=_("Reopened: the customer is dissatisfied (%(score)s/5).") % {"score": score})
        customer_services.task_create(
            actor=actor, customer=complaint.customer, today=timezone.localtime(now).date(),
            due_date=timezone.localtime(now).date() + dt.timedelta(days=FOLLOW_UP_DAYS),
            title=_("Complaint %(number)s: the customer is dissatisfied (%(score)s/5)") % {
                "number": complaint.number, "score": score})
    return complaint


FOLLOW_UP_DAYS = 3  # a dissatisfied customer's follow-up task is due within this many days


# ---- a changed calendar ------------------------------------------------------------------------------------------

CLOCK_FIELDS = ["first_response_due", "resolution_due", "sla_state", "calendar_provisional", "regulatory_due_date"]


def complaints_recompute(*, branch_id: int | None, now: dt.datetime, batch: int = 500) -> int:
    """After a working calendar changed: both clocks of every open complaint of ``branch_id``'s subtree (None: of
    every branch) computed again from their runs, so time already used stays used and only what is still to
    run follows the new calendar. In batches, each in its own transaction (a complaint locked and changed
    meanwhile is skipped: its own change recomputed it). Returns how many were recomputed."""
    open_ones = Complaint.objects.filter(status__in=rules.OPEN)
    if branch_id is not None:
        open_ones = open_ones.filter(branch__path__startswith=Branch.objects.get(pk=branch_id).path)
    ids = list(open_ones.order_by("pk").values_list("pk", flat=True))
    done, clocks = 0, {}
    for start in range(0, len(ids), batch):
        with transaction.atomic():
            chunk = list(Complaint.objects.filter(pk__in=ids[start:start + batch], status__in=rules.OPEN)
                         .select_for_update(skip_locked=True, of=("self",)).select_related("policy", "branch")
                         .prefetch_related("clock_runs"))
            earliest: dict = {}
            for complaint in chunk:
                earliest[complaint.branch_id] = min(earliest.get(complaint.branch_id, complaint.received_at),
                                                    complaint.received_at)
            for complaint in chunk:  # one calendar per branch, over the days of its earliest complaint on
                key = complaint.branch_id
                if key not in clocks or clocks[key][2] > earliest[key]:
                    clocks[key] = (*selectors.business_clock(complaint.branch, earliest[key]), earliest[key])
                refresh_clocks(complaint, now=now, clock=clocks[key][:2])
            Complaint.objects.bulk_update(chunk, CLOCK_FIELDS)
            done += len(chunk)
    return done


# ---- a re-check (核查) ---------------------------------------------------------------------------------------------

@transaction.atomic
def review_open(*, actor, complaint: Complaint, requested_at: dt.datetime, now: dt.datetime,
                description: str = "") -> Complaint:
    """The complainant asks the superior branch to re-check a decision (Art. 19–20): within 30 days of the decision,
    a linked complaint handled by the superior branch (the same branch at the top of the tree) with its own 30-day
    clock; one re-check per decision."""
    original = _locked(actor, complaint, None)
    if original.decided_on is None or original.status not in (Status.RESOLVED, Status.CLOSED):
        raise Conflict(_("A re-check is asked for a decided complaint."))
    if requested_at > now:
        raise ValidationFailed(fields={"requested_at": [_("The time received cannot be in the future.")]})
    if not rules.review_window_open(original.decided_on, timezone.localtime(requested_at).date()):
        raise ValidationFailed(fields={"requested_at": [_("A re-check must be asked within 30 days of the decision "
                                                          "(decided on %(day)s).") % {
            "day": original.decided_on.isoformat()}]})
    if original.reviews.exists():
        raise Conflict(_("This decision is being re-checked already."))
    superior = original.branch.parent or original.branch
    review = Complaint(
        number=f"TMP-{epoch(now)}", customer=original.customer, branch=superior, channel=original.channel,
        category=original.category, received_at=requested_at, complainants=original.complainants,
        description=(description.strip() or original.description)[:4000], priority=original.priority,
        complainant_name=original.complainant_name, complainant_phone=original.complainant_phone,
        complainant_email=original.complainant_email, created_by=user_of(actor), review_of=original,
        policy=original.policy, regulatory_due_date=timezone.localtime(requested_at).date())
    review.save()
    review.number = f"HC{timezone.localtime(requested_at):%Y%m%d}{review.pk:06d}"
    ClockRun.objects.create(complaint=review, started_at=requested_at)
    review.running_since = requested_at
    refresh_clocks(review, now=now)
    review.save()
    _event(review, actor, EventKind.TRANSITION, now, to_status=Status.NEW, data={"review_of": original.number})
    _event(original, actor, EventKind.CHANGED, now, text=_("Re-check requested: %(number)s") % {
        "number": review.number}, data={"review": review.pk})
    _audit(review, actor, ComplaintAudit.OPENED, {"number": [None, review.number], "review_of": [None,
                                                                                                 original.number]})
    return review


# ---- the complainant's phone --------------------------------------------------------------------------------------

def complainant_reveal(*, actor, complaint: Complaint) -> None:
    """Record that ``actor`` had the complainant's full phone number shown (PiiAccessLog); only whoever sees the
    complainant (org.access.sees_complainant: an officer only as the handler) may."""
    if not sees_complainant(actor, handler_id=complaint.handler_id) or user_of(actor) is None:
        raise NotPermitted
    pii_access_record(field=PiiField.MOBILE, user=user_of(actor), customer=complaint.customer,
                      reason=_("Complaint %(number)s: the complainant's phone") % {"number": complaint.number})


# ---- handler and details -----------------------------------------------------------------------------------------

@transaction.atomic
def complaint_assign(*, actor, complaint: Complaint, handler, now: dt.datetime, version: int | None = None,
                     note: str = "") -> Complaint:
    """Give ``complaint`` a handler (None: nobody). Supervisors, head office and integration keys assign anyone who
    may handle it (org.access.may_handle_complaint); a complaint officer takes an unassigned one for themselves."""
    complaint = _locked(actor, complaint, version, None)
    assigning = can(actor, "complaints.assign_complaint", complaint)
    taking = can(actor, "complaints.take_complaint", complaint) and handler is not None and handler.pk == actor.pk
    if not (assigning or taking):
        raise NotPermitted(_("Only a supervisor assigns complaints; an officer takes an unassigned one."))
    if handler is not None and not may_handle_complaint(handler, complaint.branch_id):
        raise ValidationFailed(fields={"handler": [_("Choose a complaint officer or supervisor of this branch or "
                                                     "a branch above it.")]})
    if complaint.status not in rules.OPEN and complaint.status != Status.RESOLVED:
        raise Conflict(_("The complaint is no longer open."))
    old = complaint.handler_id
    complaint.handler = handler
    complaint.version += 1
    complaint.save(update_fields=["handler", "version"])
    _event(complaint, actor, EventKind.ASSIGNED, now, text=note.strip(),
           data={"handler": handler.pk if handler else None, "name": str(handler) if handler else ""})
    _audit(complaint, actor, ComplaintAudit.ASSIGNED, {"handler": [old, handler.pk if handler else None]})
    return complaint


@transaction.atomic
def complaint_change(*, actor, complaint: Complaint, now: dt.datetime, version: int | None = None,
                     priority: str | None = None, category: Category | None = None, note: str = "") -> Complaint:
    """Change a complaint's priority or category: the SLA policy is chosen again, and the time already used and the
    pauses already taken are kept (the clocks are computed again over the same runs)."""
    complaint = _locked(actor, complaint, version)
    if complaint.status not in rules.OPEN:
        raise Conflict(_("The complaint is no longer open."))
    errors = {}
    if priority is not None and priority not in Priority.values:
        errors["priority"] = [_("Choose a priority.")]
    if category is not None and not category.active:
        errors["category"] = [_("Choose a category in use.")]
    if errors:
        raise ValidationFailed(fields=errors)
    changes: dict = {}
    if priority is not None and priority != complaint.priority and not complaint.major:
        changes["priority"] = [complaint.priority, priority]
        complaint.priority = priority
    if category is not None and category.pk != complaint.category_id:
        changes["category"] = [complaint.category_id, category.pk]
        complaint.category = category
    if not changes:
        return complaint
    policy = choose_policy(priority=complaint.priority, channel=complaint.channel, category=complaint.category)
    if policy.pk != complaint.policy_id:
        changes["policy"] = [complaint.policy_id, policy.pk]
        complaint.policy = policy
    complaint.version += 1
    refresh_clocks(complaint, now=now)
    complaint.save()
    _event(complaint, actor, EventKind.CHANGED, now, text=note.strip(), data={k: v[1] for k, v in changes.items()})
    _audit(complaint, actor, ComplaintAudit.CHANGED, changes)
    return complaint


# ---- SLA policies and the taxonomy (head office) ------------------------------------------------------------------

POLICY_FIELDS = ("name", "active", "priority", "channel", "category", "first_response_seconds",
                 "first_response_mode", "resolution_seconds", "resolution_mode")
POLICY_MESSAGES = {
    rules.TARGET_NOT_POSITIVE: _("Allow more than no time."),
    rules.FIRST_AFTER_RESOLUTION: _("The first response cannot be allowed longer than the resolution."),
}


def _require_settings(actor) -> None:
    if not can(actor, "complaints.change_settings"):
        raise NotPermitted(_("Only head office changes SLA policies and the complaint categories."))


def _settings_save(*, actor, model, fields: tuple, values: dict, instance, checks, audit_type: str):
    """Create or change one settings row (head office) from ``values`` (names of ``fields``): ``checks(target)``
    gives the rule's field errors, the model's own validation adds its; nothing is saved unless both are clean."""
    _require_settings(actor)
    unknown = set(values) - set(fields)
    if unknown:
        raise ValidationFailed(fields={name: [_("Unknown field.")] for name in sorted(unknown)})
    target = model.objects.select_for_update().get(pk=instance.pk) if instance is not None else model()

    def value_of(name):
        field = model._meta.get_field(name)
        return getattr(target, field.attname)

    old = {name: value_of(name) for name in values}
    for name, value in values.items():
        setattr(target, name, value)
    errors: dict[str, list[str]] = checks(target)
    relations = [name for name in fields if model._meta.get_field(name).is_relation]
    try:
        target.full_clean(exclude=relations)
    except DjangoValidationError as invalid:
        for name, messages in invalid.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationFailed(fields=errors)
    target.save()
    audit.record(type=audit_type, obj=target, user=user_of(actor), api_key=api_key_of(actor),
                 changes={name: [old[name], value_of(name)] for name in values})
    return target


def _policy_checks(policy: SlaPolicy) -> dict[str, list[str]]:
    errors = {f"{name}_seconds": [POLICY_MESSAGES[problem]] for name, problem in rules.policy_problems(
        first_response_seconds=policy.first_response_seconds or 0,
        resolution_seconds=policy.resolution_seconds or 0).items()}
    if policy.is_default and not policy.active:
        errors["active"] = [_("The default policy stays active: every complaint needs one.")]
    if policy.is_default and (policy.priority or policy.channel or policy.category_id):
        errors["priority"] = [_("The default policy matches every complaint: leave its criteria blank.")]
    if policy.category_id is not None and not policy.category.active:
        errors["category"] = [_("Choose a category in use.")]
    return errors


@transaction.atomic
def sla_policy_save(*, actor, values: dict, policy: SlaPolicy | None = None) -> SlaPolicy:
    """Create an SLA policy or change one (head office). Targets in seconds, each counted in calendar or working
    time; the first response cannot be allowed longer than the resolution; the default policy matches every
    complaint and stays active. Open complaints keep the policy they have until their details change."""
    values = {k: ("" if v is None and k in ("priority", "channel") else v) for k, v in values.items()}
    return _settings_save(actor=actor, model=SlaPolicy, fields=POLICY_FIELDS, values=values, instance=policy,
                          checks=_policy_checks, audit_type=ComplaintAudit.POLICY_SAVED)


CATEGORY_FIELDS = ("code", "name", "parent", "active", "position")


def _category_checks(category: Category) -> dict[str, list[str]]:
    parent = category.parent if category.parent_id else None
    if parent is not None and (parent.parent_id is not None or parent.pk == category.pk):
        return {"parent": [_("A sub-category sits under a top-level category.")]}
    if parent is not None and category.pk and category.children.exists():
        return {"parent": [_("This category has sub-categories: it stays at the top level.")]}
    return {}


@transaction.atomic
def category_save(*, actor, values: dict, category: Category | None = None) -> Category:
    """Create a complaint category or change one (head office): two levels (a sub-category's parent is a
    top-level category); a category is retired (``active`` off), never deleted, so past complaints keep theirs."""
    return _settings_save(actor=actor, model=Category, fields=CATEGORY_FIELDS, values=values, instance=category,
                          checks=_category_checks, audit_type=ComplaintAudit.CATEGORY_SAVED)


# ---- the regulator-style register ---------------------------------------------------------------------------------

def complaints_export_rows(*, actor, complaints, start: dt.date, end: dt.date, today: dt.date, file_format: str):
    """Rows of the complaint register for a period (complaints received from ``start`` to ``end``, Asia/Shanghai),
    as a regulator asks for them: number, dates, channel, category, complainant (phone masked), branch, handler,
    status, both clocks and whether the regulator's deadline was kept, the decision, remedy, satisfaction.
    ``complaints``: the caller's scoped queryset. Labels in the active language (resolved on the first
    ``next()``, with the header); logged (PiiAccessLog) before the first row; supervisors and head office only."""
    if not can(actor, "complaints.export_complaints"):
        raise NotPermitted
    rows = (complaints.filter(received_at__date__gte=start, received_at__date__lte=end)
            .select_related("category__parent", "branch", "handler", "customer", "review_of")
            .order_by("received_at", "id"))
    count = rows.count()
    pii_access_record(field="export", user=user_of(actor), reason=_(
        "Complaint register export: %(count)d rows, %(start)s to %(end)s, %(format)s") % {
        "count": count, "start": start.isoformat(), "end": end.isoformat(), "format": file_format})
    yes, no = str(_("yes")), str(_("no"))
    yield [str(_(label)) for label in EXPORT_HEADER]
    local = timezone.localtime
    for c in rows.iterator(chunk_size=2000):
        customer = c.customer
        name = customer.name if customer else c.complainant_name
        phone = (customer.mobile if customer else c.complainant_phone) or ""
        decided = c.decided_on or (local(c.withdrawn_at).date() if c.withdrawn_at else None)
        kept = (decided <= c.regulatory_due_date) if decided else (today <= c.regulatory_due_date)
        top, sub = (c.category.parent, c.category) if c.category.parent_id else (c.category, None)
        yield [c.number, f"{local(c.received_at):%Y-%m-%d %H:%M}", f"{local(c.created_at):%Y-%m-%d %H:%M}",
               str(Channel(c.channel).label), top.name, sub.name if sub else "", name, mask_mobile(phone),
               customer.cif if customer else "", c.branch.name, c.handler.display_name if c.handler_id else "",
               c.complainants, yes if c.major else no, str(Priority(c.priority).label), str(Status(c.status).label),
               f"{local(c.first_responded_at):%Y-%m-%d %H:%M}" if c.first_responded_at else "",
               c.regulatory_due_date.isoformat(), c.extensions, decided.isoformat() if decided else "",
               yes if kept else no, str(SlaState(c.sla_state).label), round(c.paused_seconds / 3600, 1),
               str(EscalationLevel(c.escalation_level).label), c.root_cause, c.resolution_summary, c.remedy,
               yes if c.remedies_told else no, c.satisfaction or "", c.review_of.number if c.review_of_id else ""]


EXPORT_HEADER = (
    gettext_noop("Complaint number"), gettext_noop("Received"), gettext_noop("Entered"), gettext_noop("Channel"),
    gettext_noop("Category"), gettext_noop("Sub-category"), gettext_noop("Complainant"), gettext_noop("Phone"),
    gettext_noop("CIF"), gettext_noop("Handling branch"), gettext_noop("Handler"),
    gettext_noop("Number of complainants"), gettext_noop("Major complaint"), gettext_noop("Priority"),
    gettext_noop("Status"), gettext_noop("First response"), gettext_noop("Regulatory deadline"),
    gettext_noop("Extensions"), gettext_noop("Decided on"), gettext_noop("Regulatory deadline kept"),
    gettext_noop("SLA state"), gettext_noop("Hours held waiting for the customer"),
    gettext_noop("Escalation level"), gettext_noop("Root cause"), gettext_noop("Resolution summary"),
    gettext_noop("Remedy"), gettext_noop("Told of further remedies"), gettext_noop("Satisfaction (1–5)"),
    gettext_noop("Re-check of"),
)
