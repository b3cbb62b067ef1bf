"""The scheduled jobs by name, as beat runs them and as ``manage.py run_job NAME --date YYYY-MM-DD`` replays a
missed day. Each call records a ``JobRun`` with what it did; each is idempotent (see campaigns.care, .dispatch)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.utils import timezone

from . import care, dispatch, events, services
from .models import JobRun


def _moment(day: dt.date, now: dt.datetime) -> dt.datetime:
    """The instant a job for ``day`` acts at: now when the day is today (Shanghai), else the day's 00:30 (a replay
    of a past day queues its messages as the night's scan would have)."""
    if timezone.localdate(now) == day:
        return now
    return timezone.make_aware(dt.datetime.combine(day, dt.time(0, 30)))


JOBS: dict[str, Callable[[dt.date, dt.datetime], dict]] = {
    "birthday_scan": lambda day, now: care.birthday_scan(day=day, now=_moment(day, now)),
    "festival_scan": lambda day, now: care.festival_scan(day=day, now=_moment(day, now)),
    "follow_up_scan": lambda day, now: care.follow_up_scan(day=day, now=_moment(day, now)),
    "care_events": lambda day, now: events.care_events(day=day),
    "campaign_dispatch": lambda day, now: services.campaigns_dispatch(now=now),
    "dispatch": lambda day, now: dispatch.dispatch_all(now=now),
    "reconcile": lambda day, now: dispatch.reconcile(now=now),
}


def run(name: str, *, day: dt.date, now: dt.datetime, by=None) -> JobRun:
    if name not in JOBS:
        raise KeyError(name)
    record = JobRun.objects.create(job=name, day=day, started_at=now, by=by)
    counts = JOBS[name](day, now)
    record.counts, record.finished_at = counts, timezone.now()
    record.save(update_fields=["counts", "finished_at"])
    return record
