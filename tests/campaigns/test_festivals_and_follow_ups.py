"""Festival care and the follow-up plan on PostgreSQL: greetings on the computed festival day (and the bank's own
dates), an RM call for key customers, each once; follow-up tasks for customers overdue for a contact, never a
second one while one is open."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from campaigns import care
from campaigns.models import BankDate, CareKey, Message
from customers.constants import TaskStatus
from customers.models import FollowUpTask
from segmentation.constants import ValueTier
from tests.customers.builders import CustomerFactory
from tests.org.builders import RMFactory
from tests.segmentation.builders import RunFactory, assign

SH = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db
MID_AUTUMN = dt.date(2026, 9, 25)


@pytest.fixture(autouse=True)
def chinese(settings):
    settings.LANGUAGE_CODE = "zh-hans"


@pytest.fixture
def book(db):
    rm = RMFactory(username="rm_f")
    run = RunFactory(is_current=True)
    key = CustomerFactory(rm=rm, consent_sms=True, name="王芳", gender="F")
    ordinary = CustomerFactory(rm=rm, consent_sms=True)
    silent = CustomerFactory(rm=rm, consent_sms=False)
    assign(run, key, value_tier=ValueTier.IMPORTANT)
    assign(run, ordinary, value_tier=ValueTier.ORDINARY)
    assign(run, silent, value_tier=ValueTier.ORDINARY)
    return {"rm": rm, "run": run, "key": key, "ordinary": ordinary, "silent": silent}


def test_a_festival_greets_the_consenting_and_calls_the_key_customers_once(book):
    now = dt.datetime(2026, 9, 25, 0, 40, tzinfo=SH)
    counts = care.festival_scan(day=MID_AUTUMN, now=now)
    assert counts == {"festivals": 1, "greetings": 2, "calls": 1, "no_channel": 0}
    greeting = Message.objects.get(customer=book["key"])
    assert greeting.key == f"festival:mid_autumn:2026:{book['key'].pk}" and "中秋节" in greeting.body
    assert greeting.body.startswith("王女士") and greeting.due_at == dt.datetime(2026, 9, 25, 8, tzinfo=SH)
    call = FollowUpTask.objects.get()
    assert call.customer == book["key"] and call.assignee == book["rm"] and "中秋节" in call.title
    assert care.festival_scan(day=MID_AUTUMN, now=now) == {"festivals": 1, "greetings": 0, "calls": 0,
                                                           "no_channel": 0}
    assert care.festival_scan(day=dt.date(2026, 9, 24), now=now)["festivals"] == 0


def test_the_banks_own_date(book):
    BankDate.objects.create(code="anniversary", name="建行日", day=dt.date(2026, 8, 8))
    counts = care.festival_scan(day=dt.date(2026, 8, 8), now=dt.datetime(2026, 8, 8, 9, tzinfo=SH))
    assert counts["festivals"] == 1 and counts["greetings"] == 2
    assert "建行日" in Message.objects.filter(purpose="festival").first().body


def test_the_follow_up_plan_never_opens_a_second_task(book):
    day = dt.date(2026, 11, 20)
    counts = care.follow_up_scan(day=day, now=dt.datetime(2026, 11, 20, 6, tzinfo=SH))
    assert counts["tasks"] == 3 and FollowUpTask.objects.filter(status=TaskStatus.OPEN).count() == 3  # never contacted
    assert care.follow_up_scan(day=day, now=dt.datetime(2026, 11, 20, 7, tzinfo=SH))["tasks"] == 0
    nxt = care.follow_up_scan(day=day + dt.timedelta(days=1), now=dt.datetime(2026, 11, 21, 6, tzinfo=SH))
    assert nxt["tasks"] == 0 and nxt["already_open"] == 3  # the open ones stand
    task = CareKey.objects.get(customer=book["key"]).task
    FollowUpTask.objects.filter(pk=task.pk).update(status=TaskStatus.DONE)
    again = care.follow_up_scan(day=day + dt.timedelta(days=2), now=dt.datetime(2026, 11, 22, 6, tzinfo=SH))
    assert again["tasks"] == 1  # still overdue (no interaction logged) and no task open: a new one
