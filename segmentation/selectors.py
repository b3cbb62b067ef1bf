"""Scoped reads of segmentation. Every read of assignments goes through ``org.access.scope_of``."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from core.models import AuditEvent
from customers.constants import Channel
from org.access import scope_of
from org.permissions import can

from . import engine, rules
from .constants import CardTier, PolicyStatus, SegmentationEvent, ValueTier
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


# ---- supervision: pyramid, Pareto, migration matrix, compliance -------------------------------------------------
