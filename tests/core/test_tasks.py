"""core.tasks: the date helper of every app's tasks, and the outbox delivery task."""

import datetime as dt

import pytest
import time_machine
from django.db import transaction

from core import outbox
from core.models import OutboxMessage
from core.tasks import outbox_deliver, parse_day


def test_parse_day_reads_an_iso_date():
    assert parse_day("2026-02-28") == dt.date(2026, 2, 28)


@time_machine.travel(dt.datetime(2026, 12, 5, 17, 30, tzinfo=dt.UTC), tick=False)
def test_parse_day_defaults_to_today_in_the_display_time_zone():
    assert parse_day(None) == parse_day("") == dt.date(2026, 12, 6)  # 01:30 in Asia/Shanghai


@pytest.mark.parametrize("value", ["2026-02-30", "06/12/2026", "tomorrow"])
def test_parse_day_refuses_anything_else(value):
    with pytest.raises(ValueError):
        parse_day(value)


@outbox.handler("test.task")
def _noop(payload):
    pass


@pytest.mark.django_db
def test_outbox_deliver_delivers_what_is_due_and_says_how_many():
    with transaction.atomic():
        outbox.emit("test.task", {})
        outbox.emit("test.task", {})
    assert outbox_deliver.run() == {"delivered": 2, "failed": 0, "given_up": 0}
    assert outbox_deliver.run(batch=10) == {"delivered": 0, "failed": 0, "given_up": 0}
    assert not OutboxMessage.objects.filter(delivered_at__isnull=True).exists()
