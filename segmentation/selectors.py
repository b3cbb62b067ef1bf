"""Scoped reads of segmentation. Every read of assignments goes through ``org.access.scope_of``."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Page
from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    DecimalField,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import audit
from core.models import AuditEvent
from core.pagination import CappedPaginator
from customers.constants import Channel, LifecycleStage
from customers.models import Customer, Interaction
from customers.selectors import HistoryRow
from org.access import scope_of
from org.models import Branch
from org.permissions import can

from . import engine, rules
from .constants import CardTier, PolicyStatus, RankingScope, RunStatus, SegmentationEvent, ValueTier
from .models import Assignment, BranchScores, Figures, Override, Policy, Run


def current_run() -> Run | None:
    """The run whose assignments are in force (None before the first completed run)."""
    return Run.objects.select_related("policy").filter(is_current=True).first()


def published_policy() -> Policy | None:
    return Policy.objects.filter(status=PolicyStatus.PUBLISHED).first()


def assignments(actor, *, run: Run | None = None) -> QuerySet[Assignment]:
    """The assignments of ``run`` (default: the run in force) that ``actor`` may see: its customer scope, by the
    customer's branch and RM as the run recorded them."""
    run = run or current_run()
    if run is None:
        return Assignment.objects.none()
    return scope_of(actor).filter(Assignment.objects.filter(run=run), branch="branch_id", rm="rm_id")


def runs_visible_to(actor) -> QuerySet[Run]:
    """Runs, newest first, for head office and keys with segments:read; nothing for anyone else."""
    if not can(actor, "segmentation.view_run"):
        return Run.objects.none()
    return Run.objects.select_related("policy", "triggered_by").defer("ranking", "report")


def run_get(actor, pk) -> Run:
    """One run with its report (Run.DoesNotExist outside the actor's reach: a 404, no hint)."""
    if not can(actor, "segmentation.view_run"):
        raise Run.DoesNotExist
    return Run.objects.select_related("policy", "triggered_by").defer("ranking").get(pk=pk)


NOTE_LABELS = {"tie": _("equal contributions at a cut-off moved customers up a tier"),
               "tiny": _("a scope of 1–4 customers cannot match the percentages")}


def report_rows(report: dict) -> list[dict]:
    """A run report (or a preview's) for people: per scope, per value tier: the customers the percentages ask
    for, those assigned, and the lowest contribution score in the tier (the actual cut-off); the notes in words."""
    labels = [label for _value, label in ValueTier.choices]
    rows = []
    for scope in report.get("scopes", []):
        name = scope.get("name") or (_("Whole bank") if report.get("ranking_scope") == "bank" else str(scope["scope"]))
        rows.append({"name": name, "customers": scope["customers"], "notes": [NOTE_LABELS[n] for n in scope["notes"]],
                     "tiers": [{"label": labels[k], "asked": scope["asked"][k], "assigned": scope["assigned"][k],
                                "cut_off": scope["cut_offs"][k]} for k in range(4)]})
    return rows


def policy_preview(actor, policy: Policy, *, as_of, today) -> dict:
    """What-if: what a run of ``policy`` would assign on current data (nothing written); head office only."""
    if not can(actor, "segmentation.change_policy"):
        raise Policy.DoesNotExist
    result = engine.preview(policy, as_of, today=today, chunk_size=settings.SEGMENTATION_CHUNK_SIZE)
    value_labels, card_labels = dict(ValueTier.choices), dict(CardTier.choices)
    unclassified = _("Unclassified")
    for row in result["value_tiers"]:
        row["label"] = value_labels.get(row["tier"], unclassified)
    for row in result["card_tiers"]:
        row["label"] = card_labels.get(row["tier"], unclassified)
    order = [*ValueTier.values, ""]
    cells = {(m["from"], m["to"]): m["customers"] for m in result["matrix"]}
    result["matrix_rows"] = [{"label": value_labels.get(f, _("Not assigned before") if f == "" else f),
                              "cells": [cells.get((f, t), 0) for t in order]} for f in order]
    result["matrix_columns"] = [value_labels.get(t, unclassified) for t in order]
    result["report_rows"] = report_rows(result["report"])
    return result


# ---- policies and runs ---------------------------------------------------------------------------------------

# The policy's settings as head office reads them: groups of (field, how the value is shown), in the order of the
# detail page and the editor; the service policy per value tier is a table of its own (SERVICE_FIELDS).
PERCENT, YUAN, NUMBER = "percent", "yuan", "number"
POLICY_GROUPS = (
    ("formula", _("Contribution formula"),
     _("A customer's score is the weighted sum of the month's figures; customers are ranked by it."),
     tuple((f, NUMBER) for f in rules.WEIGHT_FIELDS)),
    ("pyramid", _("Pyramid and ranking scope"),
     _("The share of a scope's customers in each value tier, best first (together 100 %)."),
     (*((f, PERCENT) for f in rules.PYRAMID_FIELDS), ("ranking_scope", NUMBER))),
    ("cards", _("Card tiers and hysteresis"),
     _("Monthly daily-average AUM from which each card tier starts (standard starts at 0); a downgrade waits "
       "for several monthly runs below the tier."),
     (*((f, YUAN) for f in rules.THRESHOLD_FIELDS), ("downgrade_after", NUMBER),
      ("private_downgrade_after", NUMBER))),
    ("potential", _("Upgrade potential"),
     _("Ordinary and small customers growing this fast, over the trend window, are flagged to cultivate."),
     (("trend_months", NUMBER), ("potential_aum_growth", PERCENT), ("potential_income_growth", PERCENT),
      ("potential_min_products", NUMBER), ("potential_max_age", NUMBER))),
    ("lifecycle", _("Lifecycle stages"),
     _("How growth, decline and maturity are told apart (over the same trend window)."),
     (("lifecycle_change", PERCENT), ("maturity_from", YUAN))),
    ("exit", _("Exit review"),
     _("Customers meeting any of these are flagged for a relationship exit review, never deleted."),
     (("exit_dormant_months", NUMBER), ("exit_negative_months", NUMBER), ("exit_non_performing", NUMBER))),
)
SERVICE_FIELDS = tuple((tier, f"{tier}_contact_days", f"{tier}_dedicated_rm", f"{tier}_channels")
                       for tier in ValueTier.values)


def format_policy_value(policy: Policy, field: str, kind: str = NUMBER) -> str:
    """One setting as people read it: "19 %", "¥100,000.00", "Yes", "Phone call, WeChat", "Per branch"."""
    value = getattr(policy, field)
    model_field = Policy._meta.get_field(field)
    if isinstance(value, bool):
        return str(_("Yes") if value else _("No"))
    if isinstance(value, list):
        labels = dict(Channel.choices)
        return ", ".join(str(labels.get(v, v)) for v in value) or "—"
    if model_field.choices:
        return str(dict(model_field.choices).get(value, value))
    if isinstance(value, Decimal):
        if kind == YUAN:
            return f"¥{value:,.2f}"
        text = f"{value.normalize():f}"  # 19.00 → "19", 0.500 → "0.5"
        return f"{text} %" if kind == PERCENT else text
    return "—" if value is None else str(value)


def _label(field: str) -> str:
    name = str(Policy._meta.get_field(field).verbose_name)
    return name[:1].upper() + name[1:]


@dataclass
class PolicyGroup:
    key: str
    title: str
    help: str
    rows: list  # (label, value shown)


@dataclass
class PolicyView:
    """The policy detail page's read model: every setting grouped and labelled, the service table, and why the
    version was last sent back (when it is a draft again)."""

    policy: Policy
    groups: list[PolicyGroup]
    service: list[dict]  # per value tier: tier, contact_days, dedicated_rm, channels (shown)
    sent_back: AuditEvent | None


def policies_visible_to(actor) -> QuerySet[Policy]:
    """Every version for head office and keys with segments:read, newest first; nothing for anyone else."""
    if not can(actor, "segmentation.view_policy"):
        return Policy.objects.none()
    return Policy.objects.select_related("created_by", "submitted_by", "approved_by").order_by("-version")


def policy_get(actor, pk) -> Policy:
    """One version ``actor`` may see (``Policy.DoesNotExist`` otherwise: a page or the API answers 404)."""
    return policies_visible_to(actor).get(pk=pk)


def policy_open() -> Policy | None:
    """The version being worked on (a draft or awaiting approval), if any: there is at most one."""
    return Policy.objects.filter(status__in=[PolicyStatus.DRAFT, PolicyStatus.PENDING]).first()


def policy_groups(policy: Policy) -> list[PolicyGroup]:
    return [PolicyGroup(key, str(title), str(help_text),
                        [(_label(f), format_policy_value(policy, f, kind)) for f, kind in fields])
            for key, title, help_text, fields in POLICY_GROUPS]


def policy_service_rows(policy: Policy) -> list[dict]:
    labels = dict(ValueTier.choices)
    return [{"tier": labels[tier], "contact_days": getattr(policy, days),
             "dedicated_rm": format_policy_value(policy, dedicated),
             "channels": format_policy_value(policy, channels)}
            for tier, days, dedicated, channels in SERVICE_FIELDS]


def policy_view(actor, pk) -> PolicyView:
    policy = policy_get(actor, pk)
    sent_back = None
    if policy.status == PolicyStatus.DRAFT:
        sent_back = (AuditEvent.objects.select_related("user")
                     .filter(object_type=Policy._meta.model_name, object_id=str(policy.pk))
                     .filter(type__in=[SegmentationEvent.POLICY_REJECTED, SegmentationEvent.POLICY_SUBMITTED])
                     .order_by("-at", "-id").first())
        if sent_back is not None and sent_back.type != SegmentationEvent.POLICY_REJECTED:
            sent_back = None
    return PolicyView(policy, policy_groups(policy), policy_service_rows(policy), sent_back)


def policy_differences(policy: Policy, against: Policy | None) -> list[tuple[str, str, str]]:
    """(label, value in ``against``, value in ``policy``) for each setting that differs: what publishing
    ``policy`` changes compared with the version in force."""
    if against is None:
        return []
    kinds = {f: kind for _key, _t, _h, fields in POLICY_GROUPS for f, kind in fields}
    out = []
    for field in (*kinds, *(f for row in SERVICE_FIELDS for f in row[1:])):
        if getattr(policy, field) != getattr(against, field):
            kind = kinds.get(field, NUMBER)
            out.append((_label(field), format_policy_value(against, field, kind),
                        format_policy_value(policy, field, kind)))
    return out



# ---- the RM's book: customer tiers, overdue contacts, downgrade watch -------------------------------------------

# The tiers a person reads, as labels (the customers' page and the lists show these, never the codes).
VALUE_LABELS = dict(ValueTier.choices)
CARD_LABELS = dict(CardTier.choices)
LIFECYCLE_LABELS = dict(LifecycleStage.choices)
OVERRIDE_EVENTS = (SegmentationEvent.OVERRIDE_SET, SegmentationEvent.OVERRIDE_ENDED, SegmentationEvent.OVERRIDE_EXPIRED)


def current_assignment_exists(**conditions) -> Exists:
    """EXISTS (a row of the run in force for the outer customer, matching ``conditions``): filters a customer
    query set in one statement (the customer list and its API), never a query per row."""
    current = Run.objects.filter(is_current=True).values("id")[:1]
    return Exists(Assignment.objects.filter(run_id=Subquery(current), customer_id=OuterRef("pk"), **conditions))


def _last_contact() -> Subquery:
    """The time of the outer assignment's customer's last interaction (index interaction_customer)."""
    return Subquery(Interaction.objects.filter(customer_id=OuterRef("customer_id")).order_by("-occurred_at")
                    .values("occurred_at")[:1], output_field=DateTimeField())


def _local_date(moment: dt.datetime | None) -> dt.date | None:
    return timezone.localtime(moment).date() if moment is not None else None


def _midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def downgrade_needed(policy: Policy, card_tier: str) -> int:
    """Consecutive runs below the card tier ``card_tier`` that bring its downgrade (private banking: longer)."""
    return policy.private_downgrade_after if card_tier == CardTier.PRIVATE else policy.downgrade_after


def card_tier_from(policy: Policy, card_tier: str) -> Decimal | None:
    """The inclusive lower bound in yuan of a card tier under ``policy`` (the AUM needed to keep it)."""
    return policy.card_thresholds[CardTier.values.index(card_tier)] if card_tier in CardTier.values else None


def contact_days(policy: Policy, value_tier: str) -> int | None:
    """The contact interval in days of a value tier under ``policy`` (None: unclassified)."""
    return dict(zip(ValueTier.values, policy.contact_days, strict=True)).get(value_tier)


@dataclass(frozen=True)
class OverrideView:
    pk: int
    value_tier: str  # label, "" when not pinned
    card_tier: str
    reason: str
    expires_on: dt.date
    set_by: str
    set_at: dt.datetime


@dataclass(frozen=True)
class CustomerTiers:
    """A customer's segmentation as the customer page shows it: labels, reasons in the reader's language, the
    next contact due; ``classified`` False when the run in force has no row for the customer (or there is none)."""

    classified: bool
    as_of: dt.date | None = None
    value_tier: str = ""  # code
    value_label: str = ""
    card_tier: str = ""
    card_label: str = ""
    potential: bool | None = None
    lifecycle: str = ""  # label
    exit_review: bool = False
    overridden: bool = False
    reasons: tuple[str, ...] = ()
    contact_days: int | None = None
    last_contact: dt.date | None = None
    next_contact_due: dt.date | None = None
    overdue: bool = False
    override: OverrideView | None = None


def override_view(override: Override | None) -> OverrideView | None:
    if override is None:
        return None
    return OverrideView(pk=override.pk, value_tier=VALUE_LABELS.get(override.value_tier, ""),
                        card_tier=CARD_LABELS.get(override.card_tier, ""), reason=override.reason,
                        expires_on=override.expires_on, set_by=str(override.created_by),
                        set_at=override.created_at)


def active_override(customer_id: int) -> Override | None:
    return Override.objects.filter(customer_id=customer_id, ended_at__isnull=True).select_related("created_by").first()


def assignment_history(actor) -> QuerySet[Assignment]:
    """The rows of every completed run that ``actor`` may see (by the branch and RM each run recorded)."""
    return scope_of(actor).filter(Assignment.objects.filter(run__status=RunStatus.DONE), branch="branch_id",
                                  rm="rm_id")


def overrides_visible_to(actor) -> QuerySet[Override]:
    """Overrides of the customers ``actor`` may see (the customer's branch and RM now)."""
    visible = scope_of(actor).filter(Customer.objects.all(), branch="branch_id", rm="rm_id")
    return Override.objects.filter(customer__in=visible).select_related("customer", "created_by")


def customer_tiers(actor, customer: Customer, *, today: dt.date) -> CustomerTiers:
    """The customer page's tier panel for ``customer``, fetched through customers.selectors: in the actor's scope
    now, so its row of the run in force is shown even if the customer changed branch or RM since the run. Two
    queries: the row (with its run, policy and last interaction) and the active override."""
    override = override_view(active_override(customer.pk))
    row = (Assignment.objects.filter(run__is_current=True, customer_id=customer.pk)
           .select_related("branch", "run__policy").annotate(last_contact=_last_contact()).first())
    if row is None:
        return CustomerTiers(classified=False, override=override)
    run, policy = row.run, row.run.policy
    scope_label = _("the bank") if policy.ranking_scope == RankingScope.BANK else str(row.branch)
    needed = downgrade_needed(policy, row.card_tier)
    reasons = rules.reason_lines(
        value_tier=row.value_tier, value_label=VALUE_LABELS.get(row.value_tier, ""), rank_pct=row.rank_pct,
        scope_label=scope_label, card_tier=row.card_tier, card_label=CARD_LABELS.get(row.card_tier, ""),
        aum_avg=row.aum_avg, tier_from=card_tier_from(policy, row.card_tier), months_below=row.months_below,
        needed=needed, codes=row.reasons, as_of_label=f"{run.as_of:%Y-%m}")
    days = contact_days(policy, row.value_tier)
    last = _local_date(row.last_contact)
    due, overdue = rules.next_contact_due(last, days, today) if days else (None, False)
    return CustomerTiers(
        classified=bool(row.value_tier or row.card_tier), as_of=run.as_of, value_tier=row.value_tier,
        value_label=VALUE_LABELS.get(row.value_tier, ""), card_tier=row.card_tier,
        card_label=CARD_LABELS.get(row.card_tier, ""), potential=row.potential,
        lifecycle=LIFECYCLE_LABELS.get(row.lifecycle, ""), exit_review=row.exit_review, overridden=row.overridden,
        reasons=tuple(str(line) for line in reasons), contact_days=days, last_contact=last,
        next_contact_due=due, overdue=overdue, override=override)


def tier_history(customer: Customer, *, limit: int = 20) -> list[HistoryRow]:
    """The customer's tier changes for its profile history (customers.extensions.customer_history): each
    completed run that changed a tier in force, and every override set, ended or expired (its audit event).
    Two queries."""
    rows = []
    # A run's entry is what the engine decided (the computed value tier, the card tier its hysteresis holds), so
    # that an override set later on the run in force shows as the override's own entry, not as the run's.
    runs = (Assignment.objects.filter(customer_id=customer.pk, run__status=RunStatus.DONE)
            .exclude(value_tier_computed=F("previous_value_tier"), card_tier_held=F("previous_card_tier"))
            .select_related("run__policy").order_by("-run__as_of", "-run_id")[:limit])
    value_field, card_field = (Assignment._meta.get_field(f).verbose_name for f in ("value_tier", "card_tier"))
    for a in runs:
        changes = []
        # The engine's previous value tier is the one in force (an override's): a pin the run kept is no change.
        kept_pin = a.overridden and a.value_tier == a.previous_value_tier
        if a.value_tier_computed != a.previous_value_tier and not kept_pin:
            changes.append((value_field, VALUE_LABELS.get(a.previous_value_tier, ""),
                            VALUE_LABELS.get(a.value_tier_computed, "")))
        if a.card_tier_held != a.previous_card_tier:
            changes.append((card_field, CARD_LABELS.get(a.previous_card_tier, ""),
                            CARD_LABELS.get(a.card_tier_held, "")))
        if not changes:
            continue
        rows.append(HistoryRow(at=a.run.finished_at or a.run.started_at, who=_("Segmentation run"),
                               source=_("Run of %(month)s (policy v%(version)s)")
                               % {"month": f"{a.run.as_of:%Y-%m}", "version": a.run.policy.version},
                               created=False, changes=changes))
    events = (AuditEvent.objects.filter(object_type="customer", object_id=str(customer.pk), type__in=OVERRIDE_EVENTS)
              .select_related("user").order_by("-at", "-id")[:limit])
    labels = {"value_tier": (value_field, VALUE_LABELS), "card_tier": (card_field, CARD_LABELS),
              "reason": (Override._meta.get_field("reason").verbose_name, None),
              "expires_on": (Override._meta.get_field("expires_on").verbose_name, None)}
    for event in events:
        changes = []
        for field, (label, choices) in labels.items():
            if field in event.changes:
                old, new = event.changes[field]
                if choices is not None:
                    old, new = choices.get(old, old or ""), choices.get(new, new or "")
                changes.append((label, old or "", new or ""))
        who = str(event.user) if event.user else _("Expiry (automatic)")
        rows.append(HistoryRow(at=event.at, who=who, source=str(audit.type_label(event.type)), created=False,
                               changes=changes))
    return rows


# The lists: overdue contacts and the downgrade watch, in the actor's scope (RM: own book; supervisor: subtree;
# head office: all), for the run in force.

@dataclass(frozen=True)
class OverdueRow:
    customer_id: int
    cif: str
    name: str
    rm: str
    branch: str
    value_label: str
    contact_days: int
    last_contact: dt.date | None  # None: never contacted
    due: dt.date
    days_overdue: int | None  # None: never contacted


def _book(actor, run: Run, rm_id: int | None) -> QuerySet[Assignment]:
    qs = assignments(actor, run=run)
    return qs.filter(rm_id=rm_id) if rm_id is not None else qs


def _overdue_qs(actor, run: Run, *, today: dt.date, rm_id: int | None) -> QuerySet[Assignment]:
    return _overdue(_book(actor, run, rm_id), run, today=today)


def overdue_in_book(*, today: dt.date) -> QuerySet[Assignment]:
    """Every overdue assignment of the run in force, unscoped: for the scheduled follow-up plan (a job, not a
    person), which gives each customer's RM the task."""
    run = current_run()
    if run is None:
        return Assignment.objects.none()
    return _overdue(Assignment.objects.filter(run=run), run, today=today)


def _overdue(book: QuerySet[Assignment], run: Run, *, today: dt.date) -> QuerySet[Assignment]:
    days = dict(zip(ValueTier.values, run.policy.contact_days, strict=True))
    overdue = Q(last_contact__isnull=True)
    due = []
    for tier, interval in days.items():
        # last contact (a local date) + interval < today  ⇔  the contact was before midnight of today - interval
        overdue |= Q(value_tier=tier, last_contact__lt=_midnight(today - dt.timedelta(days=interval)))
        due.append(When(value_tier=tier, then=F("last_contact") + Value(dt.timedelta(days=interval))))
    return (book.exclude(value_tier="").annotate(last_contact=_last_contact())
            .filter(overdue).annotate(due=Case(*due, output_field=DateTimeField())))


def overdue_contacts(actor, *, today: dt.date, rm_id: int | None = None, page=None, per_page: int = 25) -> Page:
    """Customers whose last interaction is older than their value tier's contact interval (or who were never
    contacted), most overdue first (never contacted before all), one page of ``OverdueRow``; three queries (run,
    count, page) plus the scope's branches."""
    run = current_run()
    if run is None:
        return CappedPaginator(Assignment.objects.none(), per_page).get_page(1)
    qs = (_overdue_qs(actor, run, today=today, rm_id=rm_id).select_related("customer", "rm", "branch")
          .order_by(F("due").asc(nulls_first=True), "customer_id"))
    result = CappedPaginator(qs, per_page).get_page(page)
    policy_days = dict(zip(ValueTier.values, run.policy.contact_days, strict=True))
    rows = []
    for a in result.object_list:
        last = _local_date(a.last_contact)
        due, _overdue = rules.next_contact_due(last, policy_days[a.value_tier], today)
        rows.append(OverdueRow(customer_id=a.customer_id, cif=a.customer.cif, name=a.customer.name,
                               rm=str(a.rm) if a.rm else "", branch=str(a.branch),
                               value_label=VALUE_LABELS[a.value_tier], contact_days=policy_days[a.value_tier],
                               last_contact=last, due=due, days_overdue=(today - due).days if last else None))
    result.object_list = rows
    return result


@dataclass(frozen=True)
class RmCount:
    rm_id: int | None
    rm: str
    count: int


def overdue_per_rm(actor, *, today: dt.date, rm_ids=None) -> list[RmCount]:
    """Overdue contacts per RM in the actor's scope (the supervisor's view of the list), most first; one query.
    ``rm_ids`` (ids, or a query set of users' ids) narrows it to those RMs' books (the RM home's team table)."""
    run = current_run()
    if run is None:
        return []
    qs = _overdue_qs(actor, run, today=today, rm_id=None)
    if rm_ids is not None:
        qs = qs.filter(rm_id__in=rm_ids)
    counts = (qs.order_by().values("rm_id", "rm__last_name", "rm__first_name", "rm__username")
              .annotate(n=Count("id")).order_by("-n", "rm_id"))
    return [RmCount(rm_id=c["rm_id"], rm=(f"{c['rm__last_name'] or ''}{c['rm__first_name'] or ''}".strip()
                                         or c["rm__username"] or "—"), count=c["n"]) for c in counts]


@dataclass(frozen=True)
class WatchRow:
    customer_id: int
    cif: str
    name: str
    rm: str
    card_label: str
    computed_label: str  # the tier the AUM reaches now
    months_below: int
    needed: int
    runs_left: int
    aum: Decimal | None
    aum_needed: Decimal
    gap: Decimal | None


def _watch(book: QuerySet[Assignment]) -> QuerySet[Assignment]:
    """The rows of ``book`` on the downgrade watch: below their card tier in force (a downgrade counting) and not
    overridden."""
    return book.filter(months_below__gte=1, overridden=False).exclude(card_tier="")


def downgrade_watch_in_book(run: Run) -> QuerySet[Assignment]:
    """Every row of ``run`` on the downgrade watch, unscoped: for the scheduled retention tasks (a job, not a
    person), which give each customer's RM the task."""
    return _watch(Assignment.objects.filter(run=run))


def downgrade_watch(actor, *, rm_id: int | None = None, page=None, per_page: int = 25) -> Page:
    """Customers below their card tier in force at the last run (and not overridden): the runs left before the
    downgrade and the AUM that keeps the tier (its lower bound under the run's policy), fewest runs left first,
    then the largest gap; one page of ``WatchRow``, three queries plus the scope's branches."""
    run = current_run()
    if run is None:
        return CappedPaginator(Assignment.objects.none(), per_page).get_page(1)
    policy = run.policy
    runs_left = Case(When(card_tier=CardTier.PRIVATE, then=Value(policy.private_downgrade_after)),
                     default=Value(policy.downgrade_after), output_field=IntegerField()) - F("months_below")
    bound = Case(*(When(card_tier=tier, then=Value(card_tier_from(policy, tier))) for tier in CardTier.values),
                 output_field=DecimalField(max_digits=18, decimal_places=2))
    qs = (_watch(_book(actor, run, rm_id))
          .annotate(runs_left=runs_left, gap=bound - F("aum_avg")).select_related("customer", "rm")
          .order_by("runs_left", F("gap").desc(nulls_last=True), "customer_id"))
    result = CappedPaginator(qs, per_page).get_page(page)
    rows = []
    for a in result.object_list:
        needed, bound = downgrade_needed(policy, a.card_tier), card_tier_from(policy, a.card_tier)
        rows.append(WatchRow(
            customer_id=a.customer_id, cif=a.customer.cif, name=a.customer.name, rm=str(a.rm) if a.rm else "",
            card_label=CARD_LABELS[a.card_tier], computed_label=CARD_LABELS.get(a.card_tier_computed, ""),
            months_below=a.months_below, needed=needed, runs_left=rules.runs_before_downgrade(a.months_below, needed),
            aum=a.aum_avg, aum_needed=bound, gap=(bound - a.aum_avg) if a.aum_avg is not None else None))
    result.object_list = rows
    return result



# ---- supervision: pyramid, Pareto, migration matrix, compliance -------------------------------------------------
# Every figure is one aggregate query in PostgreSQL over the run's assignment rows in the actor's scope (plus, for a
# supervisor, the one query for the ids of their branch subtree): no row per customer reaches Python.

UNCLASSIFIED = "unclassified"  # rows of a run without a tier
NOT_IN_RUN = "absent"  # migration matrix: the customer has no row in that run (or none in the actor's scope)
PARETO_TOP = 20  # "the top 20 % of customers produce N % of the contribution"
DIMENSIONS = {"value": "value_tier", "card": "card_tier"}  # migration matrix: which tier moves


def _percent(part, whole) -> Decimal | None:
    """``part`` as a percentage of ``whole`` (one decimal); None when the whole is not positive."""
    if whole is None or whole <= 0:
        return None
    return (Decimal(part or 0) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


def _rows(scope, run: Run) -> QuerySet[Assignment]:
    """The rows of ``run`` in ``scope`` (an ``org.access.AccessScope``): ``assignments`` with the scope made once, so
    the figures of one page share its one query for the branch ids."""
    return scope.filter(Assignment.objects.filter(run=run), branch="branch_id", rm="rm_id")


def done_runs() -> list[Run]:
    """The completed runs, newest month first (the pickers of the supervision pages)."""
    return list(Run.objects.select_related("policy").filter(status=RunStatus.DONE)
                .order_by("-as_of", "-finished_at", "-id"))


def previous_run(run: Run) -> Run | None:
    """The completed run that was in force before ``run`` (the one finished last before it; None for the first):
    what ``run``'s tiers are compared with for upgrades."""
    if run.finished_at is None:
        return None
    earlier = Q(finished_at__lt=run.finished_at) | Q(finished_at=run.finished_at, pk__lt=run.pk)
    return (Run.objects.select_related("policy").filter(earlier, status=RunStatus.DONE).exclude(pk=run.pk)
            .order_by("-finished_at", "-id").first())


def tier_keys(dimension: str = "value") -> list[tuple[str, str]]:
    """(key, label) of the tiers of ``dimension`` best first, then unclassified."""
    tiers = list(ValueTier) if dimension == "value" else list(reversed(CardTier))
    return [(t.value, str(t.label)) for t in tiers] + [(UNCLASSIFIED, _("Unclassified"))]


@dataclass(frozen=True)
class TierFigures:
    tier: str  # a ValueTier value, UNCLASSIFIED, or "" for the total
    label: str
    customers: int
    aum: Decimal
    contribution: Decimal
    customer_share: Decimal | None  # percent of the scope's customers
    aum_share: Decimal | None  # percent of the scope's AUM
    contribution_share: Decimal | None  # percent of the scope's contribution (None when it is not positive)


@dataclass(frozen=True)
class Pyramid:
    tiers: list[TierFigures]  # best first, unclassified last
    total: TierFigures


def pyramid(actor, run: Run) -> Pyramid:
    """Per value tier of ``run``: customers, AUM (monthly daily average) and contribution score, with their shares
    of the actor's scope. One GROUP BY query (the one of ``_groups``)."""
    return _pyramid(_groups(scope_of(actor), run))


@dataclass(frozen=True)
class _Groups:
    """The run's rows in a scope counted and summed per (branch unit, value tier): at most a few hundred rows, the
    pyramid and the branch comparison are their sums. ``root``: the scope's root branch (None: everything)."""

    rows: list[dict]
    root: dict | None


def _stored(scope, model, run: Run) -> QuerySet:
    """The stored figures (``Figures`` or ``BranchScores``) of ``run`` in ``scope``."""
    return scope.filter(model.objects.filter(run=run), branch="branch_id",
                        rm="rm_id" if model is Figures else None)


def _groups(scope, run: Run) -> _Groups:
    """One GROUP BY query by value tier and by the branch one level below the scope's root (its code from the branch
    path: head office → each top-level branch with its outlets; a supervisor → their branch itself ("") and each
    branch below it with its outlets), plus, for a subtree, the root branch's row. It sums the run's stored
    ``Figures`` (a few thousand rows), or, for a run stored before them, counts the run's rows."""
    if scope.everything:
        root, depth = None, 1  # the tree's roots (head office) hold one code: "/HO/"
    elif scope.root_id is not None:
        root = Branch.objects.filter(pk=scope.root_id).values("code", "name", "path").first()
        if root is None:
            return _Groups(rows=[], root=None)
        depth = root["path"].count("/") - 1
    else:
        return _Groups(rows=[], root=None)
    unit = Func(F("branch__path"), Value("/"), Value(depth + 2), function="split_part", output_field=CharField())
    if run.figures_ready:
        sums = {"n": Sum("customers"), "aum": Sum("aum"), "contribution": Sum("contribution")}
        source = _stored(scope, Figures, run)
    else:
        sums = {"n": Count("id"), "aum": Sum("aum_avg"), "contribution": Sum("score")}
        source = _rows(scope, run)
    rows = list(source.order_by().annotate(unit=unit).values("unit", "value_tier").annotate(**sums))
    for r in rows:
        r["value_tier"] = r["value_tier"] or UNCLASSIFIED
        r["aum"], r["contribution"] = r["aum"] or Decimal(0), r["contribution"] or Decimal(0)
    return _Groups(rows=rows, root=root)


def _pyramid(groups: _Groups) -> Pyramid:
    rows: dict[str, dict] = {}
    for g in groups.rows:
        tier = rows.setdefault(g["value_tier"], {"n": 0, "aum": Decimal(0), "contribution": Decimal(0)})
        for key in tier:
            tier[key] += g[key]
    customers = sum(r["n"] for r in rows.values())
    aum = sum((r["aum"] for r in rows.values()), Decimal(0))
    contribution = sum((r["contribution"] for r in rows.values()), Decimal(0))

    def figures(tier, label, n, aum_, contribution_):
        return TierFigures(tier=tier, label=label, customers=n, aum=aum_, contribution=contribution_,
                           customer_share=_percent(n, customers), aum_share=_percent(aum_, aum),
                           contribution_share=_percent(contribution_, contribution))

    empty = {"n": 0, "aum": Decimal(0), "contribution": Decimal(0)}
    tiers = [figures(key, label, *(rows.get(key, empty)[k] for k in ("n", "aum", "contribution")))
             for key, label in tier_keys("value")]
    return Pyramid(tiers=tiers, total=figures("", _("Total"), customers, aum, contribution))


@dataclass(frozen=True)
class Pareto:
    points: list[tuple[Decimal, Decimal]]  # (top x % of customers, their share % of the contribution), from (0, 0)
    customers: int  # customers with a contribution score
    top_share: Decimal | None  # what the top PARETO_TOP % produce (None without a positive total)


def _sql(qs: QuerySet) -> tuple[str, tuple] | None:
    """A queryset's SQL and parameters, None when it can match nothing (an empty scope)."""
    try:
        return qs.query.sql_with_params()
    except EmptyResultSet:
        return None


def pareto(actor, run: Run) -> Pareto:
    """The concentration of contribution: customers ranked by contribution score (best first) are cut into
    percentile buckets in SQL (bucket = ⌊(position − 1) · 100 / n⌋ + 1, so the top p % are the first ⌈p · n / 100⌉
    customers, whatever the order among equal scores); one query returns each bucket's count and sum, and the
    cumulative curve (at most 101 points) is added up here. The measured share of the top 20 % is read from the
    curve (linear between the two points around 20 %: the top 20 % of n customers are rarely whole customers)."""
    return _pareto(scope_of(actor), run)


def _pareto(scope, run: Run) -> Pareto:
    if run.figures_ready and scope.rm_id is None:
        return _pareto_curve(_stored_buckets(_stored(scope, BranchScores, run)))
    ranked = _sql(_rows(scope, run).filter(score__isnull=False).order_by()
                  .annotate(pos=Window(RowNumber(), order_by=[F("score").desc(), F("customer_id").asc()]),
                            total=Window(Count("id")))
                  .values("score", "pos", "total"))
    if ranked is None:
        return _pareto_curve([])
    sql, params = ranked
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (s.pos - 1) * 100 / s.total + 1 AS bucket, count(*), sum(s.score) "
                       f"FROM ({sql}) s GROUP BY 1 ORDER BY 1", params)
        return _pareto_curve([(count, score) for _bucket, count, score in cursor.fetchall()])


def _stored_buckets(stored: QuerySet[BranchScores]) -> list[tuple[int, Decimal]]:
    """The same buckets from the branches' stored scores: merged best first, cut at the same positions, summed
    exactly in fen."""
    arrays = [engine.branch_scores(data) for data in stored.values_list("scores", flat=True)]
    scores = np.sort(np.concatenate(arrays))[::-1] if arrays else np.zeros(0, dtype=np.int64)
    n = len(scores)
    if not n:
        return []
    bucket = np.arange(n, dtype=np.int64) * 100 // n  # position − 1 → bucket − 1
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    counts = np.diff(np.r_[starts, n])
    sums = np.add.reduceat(scores, starts)
    return [(int(c), Decimal(int(f)) / 100) for c, f in zip(counts, sums, strict=True)]


def _pareto_curve(buckets: list[tuple[int, Decimal]]) -> Pareto:
    """The cumulative curve from the percentile buckets (customers, their contribution), best first."""
    n = sum(count for count, _score in buckets)
    if not n:
        return Pareto(points=[], customers=0, top_share=None)
    whole = sum((score for _count, score in buckets), Decimal(0))
    if whole <= 0:
        return Pareto(points=[], customers=n, top_share=None)
    points, seen, produced = [(Decimal(0), Decimal(0))], 0, Decimal(0)
    for count, score in buckets:
        seen, produced = seen + count, produced + score
        points.append(((Decimal(seen) * 100 / n).quantize(Decimal("0.01")),
                       (produced * 100 / whole).quantize(Decimal("0.01"))))
    return Pareto(points=points, customers=n, top_share=_share_at(points, Decimal(PARETO_TOP)))


def _share_at(points, x: Decimal) -> Decimal:
    """The curve's value at ``x`` (linear between the two points around it)."""
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x0 <= x <= x1:
            y = y1 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
            return y.quantize(Decimal("0.1"))
    return points[-1][1].quantize(Decimal("0.1"))


@dataclass(frozen=True)
class MatrixRow:
    key: str
    label: str
    cells: list[tuple[str, int]]  # (to-tier key, customers), in column order
    total: int


@dataclass(frozen=True)
class Matrix:
    dimension: str
    columns: list[tuple[str, str]]  # (key, label): the tiers best first, unclassified, not in the run
    rows: list[MatrixRow]
    column_totals: list[int]
    total: int
    up: int  # customers now in a better tier (both runs classified)
    down: int
    same: int  # customers in the same tier (incl. unclassified in both)


def matrix_keys(dimension: str) -> list[tuple[str, str]]:
    return [*tier_keys(dimension), (NOT_IN_RUN, _("Not in the run"))]


def _tier_case(alias: str, column: str) -> str:
    return (f"CASE WHEN {alias}.customer_id IS NULL THEN '{NOT_IN_RUN}' "
            f"WHEN {alias}.{column} = '' THEN '{UNCLASSIFIED}' ELSE {alias}.{column} END")


def migration_matrix(actor, run_from: Run, run_to: Run, *, dimension: str = "value") -> Matrix:
    """From-tier × to-tier counts between two runs: both runs' rows in the actor's scope, joined on the customer
    (FULL OUTER JOIN, so customers in one run only count as "not in the run"), grouped by the pair of tiers. One
    query (see the report for its SQL)."""
    column = DIMENSIONS[dimension]
    keys = matrix_keys(dimension)
    counts: dict[tuple[str, str], int] = {}
    scope = scope_of(actor)
    sides = [_sql(_rows(scope, run).order_by().values("customer_id", column)) for run in (run_from, run_to)]
    if all(side is not None for side in sides):
        (from_sql, from_params), (to_sql, to_params) = sides
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {_tier_case('f', column)}, {_tier_case('t', column)}, count(*) "
                           f"FROM ({from_sql}) f FULL OUTER JOIN ({to_sql}) t ON t.customer_id = f.customer_id "
                           f"GROUP BY 1, 2", (*from_params, *to_params))
            counts = {(a, b): n for a, b, n in cursor.fetchall()}
    rank = {key: i for i, (key, _label) in enumerate(keys[:-2])}  # the classified tiers, best first
    up = sum(n for (a, b), n in counts.items() if a in rank and b in rank and rank[b] < rank[a])
    down = sum(n for (a, b), n in counts.items() if a in rank and b in rank and rank[b] > rank[a])
    rows = []
    for key, label in keys:
        cells = [(to, counts.get((key, to), 0)) for to, _label in keys]
        rows.append(MatrixRow(key=key, label=label, cells=cells, total=sum(n for _to, n in cells)))
    return Matrix(dimension=dimension, columns=keys, rows=rows,
                  column_totals=[sum(counts.get((a, b), 0) for a, _la in keys) for b, _lb in keys],
                  total=sum(counts.values()), up=up, down=down,
                  same=sum(n for (a, b), n in counts.items() if a == b))


def _tier_filter(tier: str, column: str) -> Q:
    return Q(**{column: "" if tier == UNCLASSIFIED else tier})


def movers(actor, run_from: Run, run_to: Run, from_tier: str, to_tier: str, *, dimension: str = "value",
           page: int | str | None = 1, per_page: int = 50) -> Page:
    """The customers of one cell of the migration matrix (a page of Assignment rows of ``run_to``, or of
    ``run_from`` for those no longer in ``run_to``; customer, branch and RM loaded), best score first.
    Unknown tier keys match nobody."""
    column = DIMENSIONS[dimension]
    known = {key for key, _label in matrix_keys(dimension)}
    if from_tier not in known or to_tier not in known or from_tier == to_tier == NOT_IN_RUN:
        rows = Assignment.objects.none()
    else:
        base_run, other_run, base_tier, other_tier = (
            (run_from, run_to, from_tier, to_tier) if to_tier == NOT_IN_RUN else (run_to, run_from, to_tier, from_tier))
        scope = scope_of(actor)
        other = _rows(scope, other_run).filter(customer_id=OuterRef("customer_id"))
        rows = _rows(scope, base_run).filter(_tier_filter(base_tier, column))
        if other_tier == NOT_IN_RUN:
            rows = rows.filter(~Exists(other))
        else:
            rows = rows.filter(Exists(other.filter(_tier_filter(other_tier, column))))
        rows = rows.select_related("customer", "branch", "rm").order_by(F("score").desc(nulls_last=True),
                                                                          "customer_id")
    return CappedPaginator(rows, per_page).get_page(page)


@dataclass(frozen=True)
class RmCompliance:
    rm_id: int | None
    name: str
    customers: int  # classified customers of the RM in the run
    contacted: int  # with an interaction within their tier's contact interval
    overdue: int
    share: Decimal | None  # percent contacted


@dataclass(frozen=True)
class Compliance:
    today: dt.date
    contact_days: list[tuple[str, int]]  # (tier label, days)
    rows: list[RmCompliance]  # worst share first
    total: RmCompliance
    checked_at: dt.datetime | None = None  # when the stored counts were made (None: counted for this page)


def _staff_name(first: str | None, last: str | None, username: str | None) -> str:
    return f"{last or ''}{first or ''}".strip() or username or ""


def compliance(actor, run: Run, today: dt.date) -> Compliance:
    """Contact-policy compliance per RM (the RM the run recorded): of each RM's classified customers, how many had
    an interaction (by anyone) on or after ``today`` minus their tier's contact interval (the run's policy) and not
    after ``today``: overdue = last interaction older than the interval, or none (rules.next_contact_due). One
    GROUP BY query with an EXISTS per row on the interaction index (customer, occurred_at)."""
    return _compliance(scope_of(actor), run, today)


def with_contacted(rows: QuerySet[Assignment], run: Run, today: dt.date, *names: str) -> QuerySet:
    """``rows`` grouped by ``names``: customers, and those contacted in time: an interaction (by anyone) on or after
    ``today`` minus the row's tier's contact interval (the run's policy) and not after ``today``. One EXISTS per row
    with the row's own cut-off (four EXISTS, one per tier, measured twice as slow), on the interaction index
    (customer, occurred_at)."""
    tz = timezone.get_current_timezone()
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    since = Case(*[When(value_tier=tier, then=Value(dt.datetime.combine(today - dt.timedelta(days=interval),
                                                                        dt.time.min, tzinfo=tz)))
                   for tier, interval in _contact_days(run).items()], output_field=DateTimeField())
    contacted = Exists(Interaction.objects.filter(customer_id=OuterRef("customer_id"),
                                                  occurred_at__gte=OuterRef("since"), occurred_at__lt=end))
    return (rows.exclude(value_tier="").order_by().annotate(since=since).values(*names)
            .annotate(customers=Count("id"), contacted=Count("id", filter=contacted)))


def _contact_days(run: Run) -> dict[str, int]:
    return dict(zip([t.value for t in ValueTier], run.policy.contact_days, strict=True))


def contacted_per_group(run: Run, today: dt.date) -> dict[tuple[int, int | None, str], int]:
    """Every classified row of ``run`` counted per (branch, RM, value tier) by ``with_contacted``: what
    services.compliance_refresh stores in the run's ``Figures``. One query over the whole run."""
    rows = with_contacted(Assignment.objects.filter(run=run), run, today, "branch_id", "rm_id", "value_tier")
    return {(r["branch_id"], r["rm_id"], r["value_tier"]): r["contacted"] for r in rows}


def _compliance(scope, run: Run, today: dt.date) -> Compliance:
    """Per RM: the stored counts when the run's compliance was counted for ``today`` (the run in force, every quarter
    hour), else counted now from the run's rows."""
    names = ("rm_id", "rm__first_name", "rm__last_name", "rm__username")
    checked_at = None
    if run.figures_ready and run.compliance_on == today:
        checked_at = run.compliance_at
        rows = (_stored(scope, Figures, run).exclude(value_tier="").order_by().values(*names)
                .annotate(customers=Sum("customers"), contacted=Sum("contacted")))
    else:
        rows = with_contacted(_rows(scope, run), run, today, *names)
    result = [RmCompliance(rm_id=r["rm_id"], customers=r["customers"], contacted=r["contacted"] or 0,
                           overdue=r["customers"] - (r["contacted"] or 0),
                           share=_percent(r["contacted"] or 0, r["customers"]),
                           name=_staff_name(r["rm__first_name"], r["rm__last_name"], r["rm__username"])
                           if r["rm_id"] else _("No RM"))
              for r in rows]
    result.sort(key=lambda r: (r.share if r.share is not None else Decimal(101), r.name))
    customers, reached = sum(r.customers for r in result), sum(r.contacted for r in result)
    total = RmCompliance(rm_id=None, name=_("Total"), customers=customers, contacted=reached,
                         overdue=customers - reached, share=_percent(reached, customers))
    labels = dict(tier_keys("value"))
    return Compliance(today=today, contact_days=[(labels[t], d) for t, d in _contact_days(run).items()], rows=result,
                      total=total, checked_at=checked_at)


@dataclass(frozen=True)
class BranchFigures:
    code: str
    name: str
    customers: int
    tiers: list[int]  # customers per value tier, best first, then unclassified
    aum: Decimal
    contribution: Decimal
    contribution_share: Decimal | None


def branch_comparison(actor, run: Run) -> list[BranchFigures]:
    """Per branch one level below the actor's root (head office: each top-level branch with its outlets; a
    supervisor: their branch itself and each branch below it with its outlets): customers per value tier, AUM and
    contribution. The GROUP BY query of ``_groups``, and one for the branches' names."""
    return _branches(_groups(scope_of(actor), run))


def _branches(groups: _Groups) -> list[BranchFigures]:
    tiers = [key for key, _label in tier_keys("value")]
    units: dict[str, dict] = {}
    for g in groups.rows:
        unit = units.setdefault(g["unit"], {"n": 0, "aum": Decimal(0), "contribution": Decimal(0),
                                            "tiers": dict.fromkeys(tiers, 0)})
        unit["n"] += g["n"]
        unit["aum"] += g["aum"]
        unit["contribution"] += g["contribution"]
        unit["tiers"][g["value_tier"]] += g["n"]
    if not units:
        return []
    root = groups.root
    names = dict(Branch.objects.filter(code__in=[code for code in units if code]).values_list("code", "name"))
    whole = sum((u["contribution"] for u in units.values()), Decimal(0))
    result = [BranchFigures(code=code or (root["code"] if root else ""),
                            name=(names.get(code, code) if code else root["name"] if root else _("Head office itself")),
                            customers=u["n"], tiers=[u["tiers"][t] for t in tiers], aum=u["aum"],
                            contribution=u["contribution"], contribution_share=_percent(u["contribution"], whole))
              for code, u in units.items()]
    result.sort(key=lambda b: (-b.contribution, b.code))
    return result


@dataclass(frozen=True)
class Supervision:
    pyramid: Pyramid
    pareto: Pareto
    compliance: Compliance
    branches: list[BranchFigures]


def supervision(actor, run: Run, today: dt.date) -> Supervision:
    """Every figure of the supervision page for ``run`` in the actor's scope: the scope's branch ids read once, the
    pyramid and the branch comparison from one grouped query, the Pareto buckets, compliance per RM, branch names."""
    scope = scope_of(actor)
    groups = _groups(scope, run)
    return Supervision(pyramid=_pyramid(groups), pareto=_pareto(scope, run), compliance=_compliance(scope, run, today),
                       branches=_branches(groups))
