"""The nightly housekeeping job, run by a real Celery worker through Redis."""

import datetime as dt

from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from org.tasks import housekeeping


def test_worker_runs_housekeeping_through_redis(celery_worker):
    expired = SessionStore()
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - dt.timedelta(days=1))
    live = SessionStore()
    live.create()

    result = housekeeping.apply_async(queue=celery_worker)
    summary = result.get(timeout=60)

    assert summary == {"sessions": 1, "login_attempts": 0, "idempotency_keys": 0, "outbox_messages": 0}
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]
    # Safe to run twice: the second run finds nothing more to do.
    assert housekeeping.apply_async(queue=celery_worker).get(timeout=60) == {
        "sessions": 0, "login_attempts": 0, "idempotency_keys": 0, "outbox_messages": 0}


def test_beat_schedule_is_a_database_row(db):
    task = PeriodicTask.objects.get(task="org.tasks.housekeeping")
    assert task.enabled and task.crontab.hour == "3"
