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
from django.utils import timezone
from django.utils.translation import gettext as _

from core import audit
from core.errors import Conflict, NotPermitted, ValidationFailed
from customers import selectors as customer_selectors
from customers.models import Customer
from org.access import api_key_of, scope_of, user_of
from org.models import Branch
from org.rules import epoch

from . import rules, selectors
from .constants import Action, ComplaintAudit, EventKind, Priority, SlaState, Status
from .models import Category, ClockRun, Complaint, ComplaintEvent, SlaPolicy

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


def refresh_clocks(complaint: Complaint, *, now: dt.datetime) -> None:
    """Both clocks of ``complaint`` from its runs, its policy, its branch's calendar and its regulatory extensions
    and pauses (the caller saves): due times, SLA state, the provisional flag, the regulatory deadline."""
    calendar, clock = selectors.business_clock(complaint.branch, complaint.received_at)
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
        roll_forward=settings.COMPLAINTS_REGULATORY_ROLL_FORWARD)
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
    if branch is not None and not scope_of(actor).may_place(branch.pk):
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
    if customer is not None:
        try:
            customer = customer_selectors.customers_visible_to(actor).get(pk=customer.pk)
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

def _locked(actor, complaint: Complaint, version: int | None) -> Complaint:
    try:
        current = (selectors.complaints_visible_to(actor).select_for_update(of=("self",))
                   .select_related("policy", "branch", "category").get(pk=complaint.pk))
    except Complaint.DoesNotExist:
        raise NotPermitted from None
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
    if action == Action.ACKNOWLEDGE and complaint.first_responded_at is None:
        complaint.first_responded_at = now  # acknowledging is telling the customer: the first response
    complaint.status = target
    complaint.version += 1
    refresh_clocks(complaint, now=now)
    complaint.save()
    _event(complaint, actor, EventKind.TRANSITION, now, from_status=source, to_status=target, text=note.strip(),
           data={"action": action})
    _audit(complaint, actor, ComplaintAudit.STATUS_CHANGED, {"action": [None, action], **changes})
    return complaint


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
    complaint = _locked(actor, complaint, None)
    return _event(complaint, actor, EventKind.NOTE, now, text=text.strip())

