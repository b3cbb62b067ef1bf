"""The nightly housekeeping job and the outbox delivery, run by a real Celery worker through Redis."""

import datetime as dt

from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from core.models import OutboxMessage
from core.tasks import outbox_deliver
from customers import notifications
from customers.models import ImportJob, ImportStatus
from org.tasks import housekeeping
from tests.org.builders import HeadOfficeUserFactory


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


def test_worker_delivers_the_outbox_through_redis(celery_worker):
    user = HeadOfficeUserFactory(email="ho@example.com")
    with transaction.atomic():
        job = ImportJob.objects.create(kind="customers", original_name="c.csv", file="imports/c.csv",
                                       uploaded_by=user, status=ImportStatus.DONE, finished_at=timezone.now())
        notifications.import_finished(job)
    message = OutboxMessage.objects.get()

    assert outbox_deliver.apply_async(queue=celery_worker).get(timeout=60) == {
        "delivered": 1, "failed": 0, "given_up": 0}
    message.refresh_from_db()
    assert message.delivered_at is not None and message.attempts == 1 and message.last_error == ""
    # Safe to run twice: nothing is due any more.
    assert outbox_deliver.apply_async(queue=celery_worker).get(timeout=60)["delivered"] == 0


def test_outbox_delivery_is_a_beat_row_every_minute(db):
    task = PeriodicTask.objects.get(task="core.tasks.outbox_deliver")
    assert task.enabled and (task.crontab.minute, task.crontab.hour) == ("*", "*")
