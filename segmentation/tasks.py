"""Celery tasks of segmentation: thin, taking ids and ISO dates, calling one service, safe to run twice."""

from __future__ import annotations

import logging

from celery import group, shared_task
from django.utils import timezone

from core.errors import DomainError
from core.tasks import parse_day

from . import engine, services
from .constants import RunTrigger

log = logging.getLogger(__name__)


@shared_task
def run_monthly(as_of: str | None = None) -> dict:
    """Monthly (beat): a run of the published policy for the newest snapshot month (or ``as_of``)."""
    try:
        run, started = services.run_start(as_of=parse_day(as_of) if as_of else None, trigger=RunTrigger.SCHEDULE)
    except DomainError as refused:
        log.warning("segmentation run not started: %s", refused)
        return {"started": False, "reason": str(refused)}
    return {"started": started, "run": run.pk}


@shared_task(acks_late=True)
def run_prepare(run_id: int, queue: str | None = None) -> int:
    """Step 1 of a run, then its chunks for the workers."""
    try:
        chunks = services.run_prepare(run_id=run_id)
    except Exception as error:
        engine.fail(run_id, repr(error))
        raise
    today = timezone.localdate().isoformat()
    group(run_chunk.s(run_id, index, lo, hi, today) for index, (lo, hi) in enumerate(chunks)).apply_async(
        queue=queue)
    return len(chunks)


@shared_task(acks_late=True, bind=True)
def run_chunk(self, run_id: int, index: int, lo: int, hi: int, today: str) -> bool:
    """Step 2 for one chunk; the last one makes the run the one in force (then its contact compliance is counted)."""
    try:
        finished = engine.run_chunk(run_id, index, lo, hi, today=parse_day(today))
    except Exception as error:
        engine.fail(run_id, repr(error))
        raise
    if finished:  # on the run's own queue
        compliance_refresh.apply_async(queue=(self.request.delivery_info or {}).get("routing_key"))
    return finished


@shared_task
def runs_sweep() -> list[int]:
    """Every few minutes: runs whose workers stopped answering are marked failed."""
    return services.runs_sweep(now=timezone.now())


@shared_task
def overrides_expire(today: str | None = None) -> int:
    """Daily (beat): end the overrides whose expiry day has come; the computed tiers apply again."""
    return services.overrides_expire(today=parse_day(today))


@shared_task
def compliance_refresh() -> int | None:
    """Every quarter hour (beat) and after a run: contact compliance of the run in force, counted for today."""
    now = timezone.now()
    return services.compliance_refresh(today=timezone.localdate(now), now=now)
