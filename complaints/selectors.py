"""Scoped reads of complaints. Every read goes through ``org.access.complaint_scope_of``: head office sees every
complaint, a supervisor or a complaint officer the complaints of their branch subtree, an RM the complaints of the
customers in their book, an API key those of its branches; anything else is a 404. A complaint officer sees the
complainant's data only on the complaints they handle (``org.access.sees_complainant``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Avg, Count, Q, QuerySet, Sum
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Customer
from customers.rules import mask_mobile
from org import selectors as org_selectors
from org.access import branch_subtree_ids, complaint_scope_of, sees_complainant
from org.constants import Role
from org.models import Branch, User
from org.rules import BusinessClock, WorkingCalendar

from .constants import Action, Channel, ClockTarget, EscalationLevel, EventKind, Priority, SlaState, Status
from .models import Category, Complaint, ComplaintEvent, Extension, SlaPolicy
from .rules import WARNINGS, allowed_actions


def complaints_visible_to(actor) -> QuerySet[Complaint]:
    return complaint_scope_of(actor).filter(Complaint.objects.all(), branch="branch_id", rm="customer__rm_id",
                                            semijoin=True)


def complaint_get(actor, pk) -> Complaint:
    """A complaint in the actor's scope (``Complaint.DoesNotExist`` otherwise, shown as a 404)."""
    try:
        return complaints_visible_to(actor).select_related("policy", "branch", "category").get(pk=int(pk))
    except (ValueError, TypeError, OverflowError):
        raise Complaint.DoesNotExist from None


def active_categories() -> QuerySet[Category]:
    return Category.objects.filter(active=True).select_related("parent")


def active_policies() -> list[SlaPolicy]:
    return list(SlaPolicy.objects.filter(active=True))


# The span of days a complaint's business clock covers: from the day before receipt to well past any deadline.
SPAN_BEFORE, SPAN_AFTER = dt.timedelta(days=1), dt.timedelta(days=800)


def business_clock(branch: Branch, received_at: dt.datetime) -> tuple[WorkingCalendar, BusinessClock]:
    """The branch's working calendar and a business clock over the days a complaint received at ``received_at``
    can need (four queries for the calendar)."""
    calendar = org_selectors.working_calendar(branch)
    day = timezone.localtime(received_at).date()
    return calendar, BusinessClock(calendar, day - SPAN_BEFORE, day + SPAN_AFTER)


def complainable_customers(actor) -> QuerySet[Customer]:
    """The customers ``actor`` may record a complaint for: those of the complaints it sees (an RM their book, a
    supervisor or complaint officer their branch subtree, head office all)."""
    return complaint_scope_of(actor).filter(Customer.objects.all(), branch="branch_id", rm="rm_id")


# ---- people ---------------------------------------------------------------------------------------------------------

def complaint_handlers(actor) -> QuerySet[User]:
    """Who may be picked as a handler within the actor's scope: active complaint officers and supervisors of the
    branches it sees (org.access.may_handle_complaint decides for a given complaint)."""
    qs = (User.objects.filter(is_active=True, role__in=[Role.COMPLAINT_OFFICER, Role.SUPERVISOR])
          .select_related("branch").order_by("branch__path", "username"))
    return complaint_scope_of(actor).filter(qs, branch="branch_id")


def complainant_of(complaint: Complaint, visible: bool, *, revealed: bool = False) -> tuple[str, str]:
    """(name, contact) of who complained. Not ``visible`` (purpose-bound access): both masked. Visible: the name,
    the phone masked unless ``revealed`` (services.complainant_reveal logs it), the email."""
    customer = complaint.customer if complaint.customer_id else None
    name = customer.name if customer is not None else complaint.complainant_name
    phone = (customer.mobile if customer is not None else complaint.complainant_phone) or ""
    email = (customer.email if customer is not None else complaint.complainant_email) or ""
    if not visible:
        return (name[:1] + "*" * max(len(name) - 1, 1)) if name else "", mask_mobile(phone) if phone else ""
    shown = phone if revealed else mask_mobile(phone)
    return name, " · ".join(v for v in (shown, email) if v)


# ---- the queue -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class QueueRow:
    pk: int
    number: str
    received_at: dt.datetime
    status: str
    status_label: str
    sla_state: str
    sla_label: str
    due: dt.datetime | None  # the next service deadline: first response until given, then resolution
    due_label: str  # which target ``due`` is
    regulatory_due_date: dt.date
    regulatory_overdue: bool
    category: str
    channel_label: str
    priority: str
    priority_label: str
    branch: str
    handler: str
    complainant: str
    escalation_level: int
    escalation_label: str
    major: bool
    provisional: bool
    paused_seconds: int


def sla_state_now(complaint: Complaint, now: dt.datetime) -> str:
    """The SLA state as of ``now``: the stored state (the monitor's, every few minutes), turned breached as soon as
    a running deadline passes, so a badge never shows a passed deadline as on track."""
    if complaint.sla_state in (SlaState.ON_TRACK, SlaState.AT_RISK) and complaint.status in OPEN_STATUSES:
        due = next_due(complaint)
        if due is not None and due < now:
            return SlaState.BREACHED
    return complaint.sla_state


OPEN_STATUSES = frozenset({Status.NEW, Status.ACKNOWLEDGED, Status.INVESTIGATING, Status.PENDING_CUSTOMER})


def next_due(complaint: Complaint) -> dt.datetime | None:
    if complaint.first_responded_at is None and complaint.first_response_due is not None:
        return complaint.first_response_due
    return complaint.resolution_due


def queue_rows(actor, complaints, *, now: dt.datetime) -> list[QueueRow]:
    """Finished rows of the queue for complaints fetched with ``queue_queryset`` (no query per row)."""
    today = timezone.localtime(now).date()
    rows = []
    for c in complaints:
        state = sla_state_now(c, now)
        responded = c.first_responded_at is not None
        name, _contact = complainant_of(c, sees_complainant(actor, handler_id=c.handler_id))
        rows.append(QueueRow(
            pk=c.pk, number=c.number, received_at=c.received_at, status=c.status,
            status_label=Status(c.status).label, sla_state=state, sla_label=SlaState(state).label,
            due=next_due(c) if c.status in OPEN_STATUSES else None,
            due_label=str(ClockTarget.RESOLUTION.label if responded else ClockTarget.FIRST_RESPONSE.label),
            regulatory_due_date=c.regulatory_due_date,
            regulatory_overdue=c.status in OPEN_STATUSES and c.regulatory_due_date < today,
            category=str(c.category), channel_label=Channel(c.channel).label, priority=c.priority,
            priority_label=Priority(c.priority).label, branch=c.branch.name,
            handler=c.handler.display_name if c.handler_id else "", complainant=name,
            escalation_level=c.escalation_level, escalation_label=EscalationLevel(c.escalation_level).label,
            major=c.major, provisional=c.calendar_provisional, paused_seconds=c.paused_seconds))
    return rows


def queue_queryset(actor) -> QuerySet[Complaint]:
    """The actor's complaints with what a queue row shows (one query with the joins)."""
    return complaints_visible_to(actor).select_related("category__parent", "branch", "handler", "customer")


# ---- one complaint -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TimelineRow:
    at: dt.datetime
    kind: str
    kind_label: str
    who: str
    title: str
    text: str
    outgoing: bool | None  # a message: to (True) or from (False) the customer


def _event_title(event: ComplaintEvent) -> str:
    data = event.data or {}
    if event.kind == EventKind.TRANSITION:
        if event.from_status:
            return f"{Status(event.from_status).label} → {Status(event.to_status).label}"
        return _("Recorded as “%(status)s”") % {"status": Status(event.to_status).label}
    if event.kind == EventKind.WARNING:
        target = ClockTarget(data.get("target", ClockTarget.RESOLUTION)).label
        level = data.get("level", 0)
        if level >= len(WARNINGS):
            return _("%(target)s: deadline passed") % {"target": target}
        return _("%(target)s: %(share)s%% of the allowed time used") % {
            "target": target, "share": round(WARNINGS[level] * 100)}
    if event.kind == EventKind.ESCALATION:
        return _("Escalated to: %(level)s") % {"level": EscalationLevel(data.get("level", 1)).label}
    if event.kind == EventKind.ASSIGNED:
        return _("Handler: %(name)s") % {"name": data.get("name") or _("nobody")}
    if event.kind == EventKind.EXTENSION:
        state = data.get("state", "requested")
        labels = {"requested": _("Extension %(number)s requested"), "approved": _("Extension %(number)s approved"),
                  "refused": _("Extension %(number)s refused")}
        title = labels.get(state, labels["requested"]) % {"number": data.get("number", 1)}
        if data.get("regulatory_due_date") and state == "approved":
            title += " · " + _("regulatory deadline %(day)s") % {"day": data["regulatory_due_date"]}
        return title
    if event.kind == EventKind.SATISFACTION:
        return _("Satisfaction: %(score)s/5") % {"score": data.get("score", "")}
    if event.kind == EventKind.CLOCK and "regulatory_hold" in data:
        return _("Appraisal or mediation started: the regulator's clock holds") if data["regulatory_hold"] else \
            _("Appraisal or mediation ended: the regulator's clock runs again")
    if event.kind == EventKind.MESSAGE:
        return _("To the customer") if data.get("outgoing") else _("From the customer")
    return str(EventKind(event.kind).label)


def timeline(complaint: Complaint) -> list[TimelineRow]:
    """Every line of a complaint's timeline, oldest first (one query)."""
    events = complaint.events.select_related("actor").order_by("at", "id")
    return [TimelineRow(at=e.at, kind=e.kind, kind_label=EventKind(e.kind).label,
                        who=e.actor.display_name if e.actor_id else (_("API client") if e.api_key_id else
                                                                      _("System")),
                        title=_event_title(e), text=e.text,
                        outgoing=e.data.get("outgoing") if e.kind == EventKind.MESSAGE else None)
            for e in events]


@dataclass(frozen=True)
class ComplaintView:
    complaint: Complaint
    complainant: str
    contact: str
    sees_complainant: bool
    revealed: bool
    sla_state: str
    sla_label: str
    due: dt.datetime | None
    timeline: list[TimelineRow]
    extensions: list[Extension]
    pending_extension: Extension | None
    actions: list[tuple[str, str]]  # (action, label) the table allows from the status
    reviews: list[Complaint]


def complaint_view(actor, pk, *, now: dt.datetime, revealed: bool = False) -> ComplaintView:
    """A complaint in the actor's scope as its page shows it (``Complaint.DoesNotExist`` outside the scope)."""
    try:
        complaint = (complaints_visible_to(actor).select_related(
            "policy", "branch", "category__parent", "customer", "handler", "created_by", "review_of")
            .get(pk=int(pk)))
    except (ValueError, TypeError, OverflowError):
        raise Complaint.DoesNotExist from None
    visible = sees_complainant(actor, handler_id=complaint.handler_id)
    name, contact = complainant_of(complaint, visible, revealed=revealed and visible)
    extensions = list(complaint.extension_requests.select_related("requested_by", "decided_by").order_by("number",
                                                                                                       "id"))
    state = sla_state_now(complaint, now)
    return ComplaintView(
        complaint=complaint, complainant=name, contact=contact, sees_complainant=visible,
        revealed=revealed and visible, sla_state=state,
        sla_label=SlaState(state).label, due=next_due(complaint) if complaint.status in OPEN_STATUSES else None,
        timeline=timeline(complaint), extensions=extensions,
        pending_extension=next((e for e in extensions if e.state == Extension.State.REQUESTED), None),
        actions=[(a, Action(a).label) for a in allowed_actions(complaint.status)],
        reviews=list(complaint.reviews.order_by("id")))


# ---- the supervisor board ------------------------------------------------------------------------------------------

def held_label(seconds: int) -> str:
    """Working time held, as a person reads it: "3 h 20 min", "45 min"."""
    hours, minutes = divmod(int(seconds) // 60, 60)
    if hours:
        return _("%(h)d h %(m)d min") % {"h": hours, "m": minutes}
    return _("%(m)d min") % {"m": minutes}


@dataclass(frozen=True)
class HandlerPause:
    handler: str
    open_count: int
    paused_now: int
    paused_seconds: int

    @property
    def held_label(self) -> str:
        return held_label(self.paused_seconds)


@dataclass(frozen=True)
class Board:
    at_risk: list[QueueRow]
    breached: list[QueueRow]
    regulatory_soon: list[QueueRow]
    extensions: list[Extension]
    pauses: list[HandlerPause]
    counts: dict[str, int]
    satisfaction: float | None
    satisfaction_count: int


BOARD_ROWS = 20  # rows per list on the board
REGULATORY_SOON_DAYS = 3


def board(actor, *, now: dt.datetime, branch_id: int | None = None) -> Board:
    """The supervisor board over the actor's open complaints (``branch_id``: that subtree only): the at-risk and
    breached ones (most urgent first), those whose regulatory deadline is within three days, the extensions awaiting
    approval, the time held per handler, counts by SLA state and the satisfaction of the last 90 days. A fixed
    number of queries."""
    today = timezone.localtime(now).date()
    base = queue_queryset(actor)
    if branch_id is not None:
        base = base.filter(branch_id__in=branch_subtree_ids(branch_id))
    open_qs = base.filter(status__in=OPEN_STATUSES)
    counts = dict(open_qs.order_by().values_list("sla_state").annotate(n=Count("id")).values_list("sla_state", "n"))
    at_risk = queue_rows(actor, open_qs.filter(sla_state=SlaState.AT_RISK).order_by("resolution_due", "id")
                         [:BOARD_ROWS], now=now)
    breached = queue_rows(actor, open_qs.filter(sla_state=SlaState.BREACHED).order_by(
        "-escalation_level", "resolution_due", "id")[:BOARD_ROWS], now=now)
    soon = queue_rows(actor, open_qs.filter(regulatory_due_date__lte=today + dt.timedelta(
        days=REGULATORY_SOON_DAYS)).order_by("regulatory_due_date", "id")[:BOARD_ROWS], now=now)
    extensions = list(Extension.objects.filter(state=Extension.State.REQUESTED, complaint__in=open_qs)
                      .select_related("complaint", "requested_by").order_by("requested_at")[:BOARD_ROWS])
    pauses = [HandlerPause(handler=row["handler_name"] or _("Unassigned"), open_count=row["open_count"],
                           paused_now=row["paused_now"], paused_seconds=row["paused"] or 0)
              for row in open_qs.order_by().values("handler_id").annotate(
                  handler_name=Concat("handler__last_name", "handler__first_name"),
                  open_count=Count("id"), paused_now=Count("id", filter=Q(status=Status.PENDING_CUSTOMER)),
                  paused=Sum("paused_seconds")).order_by("-paused", "handler_name")]
    rated = base.filter(satisfaction__isnull=False, resolved_at__gte=now - dt.timedelta(days=90)).aggregate(
        avg=Avg("satisfaction"), n=Count("id"))
    return Board(at_risk=at_risk, breached=breached, regulatory_soon=soon, extensions=extensions, pauses=pauses,
                 counts=counts, satisfaction=round(rated["avg"], 2) if rated["avg"] is not None else None,
                 satisfaction_count=rated["n"])
