"""Scoped reads of campaigns: head office sees every campaign; a supervisor or an RM the bank's campaigns and those of
their branch subtree; keys with campaigns:read those of their branches."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from org.access import scope_of

from .models import Campaign


def campaigns_visible_to(actor) -> QuerySet[Campaign]:
    scope = scope_of(actor)
    if scope.everything:
        return Campaign.objects.all()
    if scope.root_id is None:
        return Campaign.objects.none()
    return Campaign.objects.filter(Q(branch__isnull=True) | Q(branch_id__in=scope.branch_ids))
