"""Celery tasks of care and campaigns: thin, a day as an ISO date (default: today in Asia/Shanghai), one job each;
safe to run twice, on two workers, or from two beats (each effect has a unique key in the database)."""

from celery import shared_task
from django.utils import timezone

from core.tasks import parse_day

from . import jobs


@shared_task(acks_late=True)
def birthday_scan(day: str | None = None) -> dict:
    """00:30 Asia/Shanghai: the RMs' birthday reminders and the day's greetings."""
    return jobs.run("birthday_scan", day=parse_day(day), now=timezone.now()).counts


@shared_task(acks_late=True)
def festival_scan(day: str | None = None) -> dict:
    """00:40 Asia/Shanghai: the day's festival greetings and the key customers' RM calls."""
    return jobs.run("festival_scan", day=parse_day(day), now=timezone.now()).counts


@shared_task(acks_late=True)
def follow_up_scan(day: str | None = None) -> dict:
    """06:00 Asia/Shanghai: follow-up tasks for customers overdue for a contact (never a second one open)."""
    return jobs.run("follow_up_scan", day=parse_day(day), now=timezone.now()).counts


@shared_task(acks_late=True)
def care_events(day: str | None = None) -> dict:
    """06:10 Asia/Shanghai: event-triggered RM tasks (tier upgrades, maturities, dormancy, downgrade watch)."""
    return jobs.run("care_events", day=parse_day(day), now=timezone.now()).counts


@shared_task(acks_late=True)
def campaign_dispatch(day: str | None = None) -> dict:
    """Every minute: launch approved campaigns whose start has come, complete those whose window closed."""
    return jobs.run("campaign_dispatch", day=parse_day(day), now=timezone.now()).counts


@shared_task(acks_late=True)
def dispatch(day: str | None = None) -> dict:
    """Every minute: send the due messages (the periodic dispatcher: no countdowns or ETAs)."""
    return jobs.run("dispatch", day=parse_day(day), now=timezone.now()).counts


@shared_task(acks_late=True)
def reconcile(day: str | None = None) -> dict:
    """Every five minutes: messages whose worker died mid-send become unknown (never re-sent blindly)."""
    return jobs.run("reconcile", day=parse_day(day), now=timezone.now()).counts
