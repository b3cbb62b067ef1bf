"""Celery tasks of complaints: thin, taking ids, calling one service, safe to run twice."""

from celery import shared_task
from django.utils import timezone

from . import monitor, services


@shared_task
def complaints_recompute(branch_id: int | None = None) -> int:
    """After a working calendar changed (org.signals.calendar_changed): the open complaints' clocks again."""
    return services.complaints_recompute(branch_id=branch_id, now=timezone.now())


@shared_task
def sla_monitor() -> dict:
    """Every few minutes (beat): warnings and escalation steps of the open complaints, each once."""
    return monitor.sla_monitor(now=timezone.now())
