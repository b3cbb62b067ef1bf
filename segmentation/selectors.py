"""Scoped reads of segmentation. Every read of assignments goes through ``org.access.scope_of``."""

from __future__ import annotations

from django.db.models import QuerySet

from org.access import scope_of

from .constants import PolicyStatus
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


# ---- the RM's book: customer tiers, overdue contacts, downgrade watch -------------------------------------------


# ---- supervision: pyramid, Pareto, migration matrix, compliance -------------------------------------------------
