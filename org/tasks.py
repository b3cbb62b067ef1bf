from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(acks_late=True)
def housekeeping():
    """Scheduled nightly by beat (see the migration that creates the schedule row)."""
    return services.housekeeping_run(now=timezone.now())
