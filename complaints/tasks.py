"""Celery tasks of complaints: thin, taking ids, calling one service, safe to run twice."""

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task
def complaints_recompute(branch_id: int | None = None) -> int:
    """After a working calendar changed (org.signals.calendar_changed): the open complaints' clocks again."""
    return services.complaints_recompute(branch_id=branch_id, now=timezone.now())
