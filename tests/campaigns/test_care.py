"""Birthday care and the dispatcher on PostgreSQL: the scan finds the day's birthdays (Feb 29, lunar), reminds RMs
ahead, greets through a consented channel outside quiet hours, each once however often it runs (also on two
connections at once); the dispatcher checks consent, quiet hours and the cap at send time, sends each message once,
and a send interrupted after the provider took it becomes unknown, never re-sent; run_job replays a day; the beat
rows fire at Shanghai time."""

import datetime as dt
import json
import threading
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from campaigns import care, dispatch, jobs
from campaigns.models import Attempt, CareKey, JobRun, Message
from customers.models import FollowUpTask
from tests.customers.builders import CustomerFactory
from tests.org.builders import RMFactory

SH = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


def at(y, m, d, h=0, mi=30):
    return dt.datetime(y, m, d, h, mi, tzinfo=SH)


@pytest.fixture(autouse=True)
def files(tmp_path, settings):
    settings.CARE_MESSAGE_BACKEND = "file"
    settings.CARE_MESSAGE_DIR = str(tmp_path)
    settings.LANGUAGE_CODE = "zh-hans"
    return tmp_path


def sent_lines(directory) -> list[dict]:
    return [json.loads(line) for f in sorted(directory.glob("*.jsonl")) for line in f.read_text().splitlines()]


@pytest.fixture
def book(db):
    rm = RMFactory(username="rm_care", last_name="王", first_name="经理")
    make = lambda **kw: CustomerFactory(rm=rm, consent_sms=True, **kw)
    return {
        "today": make(birth_date=dt.date(1980, 3, 5), name="张伟", gender="M"),
        "feb29": make(birth_date=dt.date(1992, 2, 29), name="李娜", gender="F"),
        "ahead": make(birth_date=dt.date(1975, 3, 8), name="赵强", gender="M"),
        "dnc": make(birth_date=dt.date(1981, 3, 5), do_not_contact=True),
        "no_consent": CustomerFactory(rm=rm, birth_date=dt.date(1982, 3, 5), consent_sms=False),
        # lunar 1990-01-29 is born on lunar 1/29 (= 2026-03-17 this year), greeted on the lunar date only
        "lunar": make(birth_date=dt.date(1990, 2, 23), lunar_birthday=True, name="陈静", gender="F"),
        "no_rm": CustomerFactory(rm=None, birth_date=dt.date(1970, 3, 8), consent_sms=True),
    }


def test_the_scan_greets_the_days_birthdays_and_reminds_rms_ahead_once(book):
    counts = care.birthday_scan(day=dt.date(2026, 3, 5), now=at(2026, 3, 5))
    assert counts == {"reminders": 1, "greetings": 1, "no_channel": 2}
    greeting = Message.objects.get()
    assert greeting.customer == book["today"] and greeting.key == f"birthday:2026:{book['today'].pk}"
    assert greeting.body.startswith("张先生") and greeting.body.endswith("回复T退订")
    assert greeting.due_at == at(2026, 3, 5, 8, 0)  # scanned at 00:30: waits for the end of quiet hours
    task = FollowUpTask.objects.get()
    assert task.customer == book["ahead"] and task.due_date == dt.date(2026, 3, 8) and task.assignee.username == "rm_care"
    assert CareKey.objects.get().task == task
    assert care.birthday_scan(day=dt.date(2026, 3, 5), now=at(2026, 3, 5, 1)) == {
        "reminders": 0, "greetings": 0, "no_channel": 2}
    assert Message.objects.count() == 1 and FollowUpTask.objects.count() == 1


def test_feb_29_on_feb_28_and_a_lunar_birthday_on_its_lunar_day(book):
    care.birthday_scan(day=dt.date(2026, 2, 28), now=at(2026, 2, 28))
    assert Message.objects.get().customer == book["feb29"]
    day = care.rules.lunar_birthday(care.rules.lunar_of(book["lunar"].birth_date), 2026)
    assert day != dt.date(2026, 2, 23)
    care.birthday_scan(day=day, now=at(day.year, day.month, day.day))
    lunar = Message.objects.get(customer=book["lunar"])
    assert lunar.key == f"birthday:L2026:{book['lunar'].pk}"
    care.birthday_scan(day=dt.date(2026, 2, 23), now=at(2026, 2, 23))
    assert Message.objects.filter(customer=book["lunar"]).count() == 1  # not on the Gregorian date


def test_the_nightly_task_at_0030_shanghai_picks_the_shanghai_day(book):
    from campaigns.tasks import birthday_scan

    with time_machine.travel(dt.datetime(2026, 3, 4, 16, 30, tzinfo=dt.UTC), tick=False):  # 00:30 on the 5th
        counts = birthday_scan.run()
    assert counts["greetings"] == 1 and Message.objects.get().customer == book["today"]
    assert JobRun.objects.get().day == dt.date(2026, 3, 5)


def test_two_scans_at_once_on_two_connections_do_everything_once(transactional_db, files):
    rm = RMFactory(username="rm_twice")
    for k in range(30):
        CustomerFactory(rm=rm, consent_sms=True, birth_date=dt.date(1980 + k % 20, 3, 5))
        CustomerFactory(rm=rm, consent_sms=True, birth_date=dt.date(1980 + k % 20, 3, 8))
    barrier, errors = threading.Barrier(2), []

    def scan():
        try:
            barrier.wait()
            care.birthday_scan(day=dt.date(2026, 3, 5), now=at(2026, 3, 5))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert Message.objects.count() == 30 and FollowUpTask.objects.count() == 30 and CareKey.objects.count() == 30


def test_the_dispatcher_checks_consent_quiet_hours_and_sends_each_once(book, files):
    care.birthday_scan(day=dt.date(2026, 3, 5), now=at(2026, 3, 5))
    assert dispatch.dispatch(now=at(2026, 3, 5, 7, 59)) == {"cancelled": 0, "deferred_quiet": 0, "deferred_cap": 0,
                                                            "sent": 0, "failed": 0}  # not due before 08:00
    counts = dispatch.dispatch(now=at(2026, 3, 5, 8, 0))
    assert counts["sent"] == 1
    message = Message.objects.get()
    assert message.status == Message.Status.SENT and message.attempt_rows.get().outcome == Attempt.Outcome.ACCEPTED
    assert [line["key"] for line in sent_lines(files)] == [message.key]
    assert dispatch.dispatch(now=at(2026, 3, 5, 9))["sent"] == 0 and len(sent_lines(files)) == 1


def test_an_opt_out_after_queueing_cancels_and_a_service_notice_still_goes(book, files):
    c = book["today"]
    marketing = Message.objects.create(key="m1", customer=c, channel="sms", purpose="campaign", recipient=c.mobile,
                                       body="新品", due_at=at(2026, 3, 5, 9))
    service = Message.objects.create(key="s1", customer=c, channel="sms", purpose="service", marketing=False,
                                     recipient=c.mobile, body="您的投诉已受理", due_at=at(2026, 3, 5, 9))
    type(c).objects.filter(pk=c.pk).update(consent_sms=False)
    counts = dispatch.dispatch(now=at(2026, 3, 5, 10))
    assert counts["cancelled"] == 1 and counts["sent"] == 1
    marketing.refresh_from_db()
    service.refresh_from_db()
    assert marketing.status == "cancelled" and marketing.cancel_reason == "no_consent"
    assert service.status == "sent"


def test_quiet_hours_and_the_cap_defer_to_the_next_allowed_time(book, files):
    c = book["today"]
    late = Message.objects.create(key="late", customer=c, channel="sms", purpose="campaign", recipient=c.mobile,
                                  body="晚间推送", due_at=at(2026, 3, 5, 21, 0))
    assert dispatch.dispatch(now=at(2026, 3, 5, 21, 30))["deferred_quiet"] == 1
    late.refresh_from_db()
    assert late.due_at == at(2026, 3, 6, 8, 0)
    for k, day in enumerate((1, 3, 4, 5)):  # four marketing messages already sent in the window
        Message.objects.create(key=f"old{k}", customer=c, channel="sms", purpose="campaign", recipient=c.mobile,
                               body="x", status="sent", sent_at=at(2026, 3, day, 10), due_at=at(2026, 3, day, 10))
    assert dispatch.dispatch(now=at(2026, 3, 6, 8, 0))["deferred_cap"] == 1
    late.refresh_from_db()
    assert late.due_at == at(2026, 3, 31, 10, 30) and late.status == "queued"  # the first leaves the 30 days


def test_an_interrupted_send_is_reconciled_with_the_providers_records_never_resent_blindly(book, files,
                                                                                           settings):
    c = book["today"]
    make = lambda key: Message.objects.create(
        key=key, customer=c, channel="sms", purpose="birthday", recipient=c.mobile, body="生日快乐",
        due_at=at(2026, 3, 5, 9, 0))
    taken, lost = make("taken"), make("lost")
    sending, _counts = dispatch._claim(at(2026, 3, 5, 9, 0), 10)  # the worker dies right after this commit …
    with care_backend() as backend:
        backend.send(taken)  # … having handed one message to the provider
    assert {m.pk for m in sending} == {taken.pk, lost.pk}
    assert dispatch.dispatch(now=at(2026, 3, 5, 9, 1))["sent"] == 0  # "sending": never picked again
    assert dispatch.reconcile(now=at(2026, 3, 5, 9, 5)) == {"sent": 0, "requeued": 0, "unknown": 0}  # not yet
    assert dispatch.reconcile(now=at(2026, 3, 5, 9, 11)) == {"sent": 1, "requeued": 1, "unknown": 0}
    taken.refresh_from_db()
    lost.refresh_from_db()
    assert taken.status == "sent" and lost.status == "queued"
    assert dispatch.dispatch(now=at(2026, 3, 5, 9, 12))["sent"] == 1
    assert sorted(line["key"] for line in sent_lines(files)) == ["lost", "taken"]  # each exactly once
    # a provider that cannot tell: unknown, for a person to reconcile
    settings.CARE_MESSAGE_BACKEND = "console"
    third = make("third")
    dispatch._claim(at(2026, 3, 5, 10, 0), 10)
    assert dispatch.reconcile(now=at(2026, 3, 5, 10, 11)) == {"sent": 0, "requeued": 0, "unknown": 1}
    third.refresh_from_db()
    assert third.status == "unknown" and third.attempt_rows.get().outcome == "unknown"


def care_backend():
    from campaigns import backends

    return backends.backend()


def test_run_job_replays_a_day_and_refuses_bad_arguments(book, capsys):
    call_command("run_job", "birthday_scan", "--date", "2026-03-05")
    assert "birthday_scan for 2026-03-05" in capsys.readouterr().out
    assert Message.objects.get().due_at == at(2026, 3, 5, 8, 0)
    call_command("run_job", "birthday_scan", "--date", "2026-03-05")
    assert Message.objects.count() == 1 and JobRun.objects.filter(job="birthday_scan").count() == 2
    with pytest.raises(CommandError, match="unknown job"):
        call_command("run_job", "nope")
    with pytest.raises(CommandError, match="not a date"):
        call_command("run_job", "birthday_scan", "--date", "2026-13-01")
    assert set(jobs.JOBS) >= {"birthday_scan", "dispatch", "reconcile"}


def test_the_beat_rows_fire_at_shanghai_time(db):
    from django_celery_beat.models import PeriodicTask

    scan = PeriodicTask.objects.get(task="campaigns.tasks.birthday_scan")
    assert scan.crontab.timezone.key == "Asia/Shanghai" and (scan.crontab.hour, scan.crontab.minute) == ("0", "30")
    schedule = scan.crontab.schedule
    last = dt.datetime(2026, 3, 4, 16, 0, tzinfo=dt.UTC)  # 00:00 Shanghai
    with time_machine.travel(last, tick=False):
        remaining = schedule.remaining_estimate(last)
    assert last + remaining == dt.datetime(2026, 3, 4, 16, 30, tzinfo=dt.UTC)  # 16:30 UTC, not 00:30 UTC
    assert PeriodicTask.objects.filter(task__in=["campaigns.tasks.dispatch", "campaigns.tasks.reconcile"]).count() == 2
