"""The kernel's Celery task (outbox delivery) and the helper every app's tasks use to read their date.

Tasks are thin: they take ids and an ISO date (a string: JSON-serialisable, readable in the broker and the
beat admin), call one service and return a small summary; they are safe to run twice.
"""

from datetime import date

from celery import shared_task
from django.utils import timezone

from . import outbox


def parse_day(value: str | None = None) -> date:
    """A task's date argument: an ISO date ("2026-12-06"); none means today in the display time zone."""
    return date.fromisoformat(value) if value else timezone.localdate()


@shared_task(acks_late=True)
def outbox_deliver(batch: int = 500) -> dict:
    """Every minute (beat): deliver the due outbox messages; counts by outcome."""
    return outbox.deliver(now=timezone.now(), batch=batch)
