"""Scoped reads of segmentation. Every read of assignments goes through ``org.access.scope_of``."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from core.models import AuditEvent
from customers.constants import Channel
from org.access import scope_of
from org.permissions import can

from . import rules
from .constants import PolicyStatus, SegmentationEvent, ValueTier
from .models import Assignment, Policy, Run


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


# ---- supervision: pyramid, Pareto, migration matrix, compliance -------------------------------------------------
