"""Scoped reads of segmentation. Every read of assignments goes through ``org.access.scope_of``."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from org.access import scope_of
from org.permissions import can

from . import engine
from .constants import CardTier, PolicyStatus, ValueTier
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


# ---- the RM's book: customer tiers, overdue contacts, downgrade watch -------------------------------------------


# ---- supervision: pyramid, Pareto, migration matrix, compliance -------------------------------------------------
