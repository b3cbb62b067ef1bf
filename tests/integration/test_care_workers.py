"""Care on the real thing: a real Redis and real Celery worker (and beat) processes against the test database.

1. The birthday scan and the dispatcher run on a worker; the worker is killed (SIGKILL) in the middle of sending;
   another worker reconciles with the provider's records (the file backend's lines) and sends the rest: every
   greeting is sent exactly once.
2. Two beats run at once for a minute, both sending the scan and the dispatcher every two seconds: every greeting,
   reminder task and line is there exactly once."""

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter

import pytest
from django.utils import timezone

from campaigns.models import CareKey, Message
from campaigns.tasks import birthday_scan, dispatch, reconcile
from customers.models import Customer, FollowUpTask
from tests.customers.builders import CustomerFactory
from tests.org.builders import RMFactory

from .conftest import ROOT, celery_env, wait_until_ready, worker_process

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def care_env(monkeypatch, tmp_path, redis_url):
    """The workers' settings: messages to files in tmp_path, no quiet hours (the test runs at any hour), an
    interrupted send reconciled at once."""
    monkeypatch.setenv("CARE_MESSAGE_BACKEND", "file")
    monkeypatch.setenv("CARE_MESSAGE_DIR", str(tmp_path))
    monkeypatch.setenv("CARE_QUIET_START", "00:00")
    monkeypatch.setenv("CARE_QUIET_END", "00:00")
    monkeypatch.setenv("CARE_UNKNOWN_AFTER_MINUTES", "0")
    from crm_project.celery import app

    old = (app.conf.broker_url, app.conf.result_backend)
    app.conf.broker_url = app.conf.result_backend = redis_url
    yield tmp_path, app, f"crm-care-{uuid.uuid4().hex[:8]}"
    app.conf.broker_url, app.conf.result_backend = old


def birthdays_today(n: int, *, ahead: int = 0) -> None:
    """``n`` customers whose birthday is today in Shanghai (and ``ahead`` whose birthday is in three days)."""
    rm = RMFactory()
    today = timezone.localdate()
    born = [today.replace(year=1980 + k % 30) if (today.month, today.day) != (2, 29) else dt.date(1980, 2, 29)
            for k in range(n)]
    later = today + dt.timedelta(days=3)
    born += [later.replace(year=1970 + k % 30) if (later.month, later.day) != (2, 29) else dt.date(1980, 2, 29)
             for k in range(ahead)]
    Customer.objects.bulk_create([CustomerFactory.build(rm=rm, branch=rm.branch, birth_date=b, consent_sms=True)
                                  for b in born], batch_size=2000)


def lines(directory) -> list[str]:
    return [json.loads(line)["key"] for f in sorted(directory.glob("*.jsonl")) for line in f.read_text().splitlines()
            if line.strip()]


def stop(proc, sig=signal.SIGTERM) -> str:
    proc.send_signal(sig)
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out or ""


def test_a_worker_killed_mid_dispatch_and_a_new_one_send_every_greeting_exactly_once(care_env, redis_url):
    directory, app, queue = care_env
    n = 6000
    birthdays_today(n)
    first = worker_process(queue, redis_url, "first")
    try:
        wait_until_ready(app, queue, 1)
        assert birthday_scan.apply_async(queue=queue).get(timeout=120)["greetings"] == n
        assert Message.objects.filter(status="queued").count() == n
        dispatch.apply_async(queue=queue)
        deadline = time.monotonic() + 120
        while len(lines(directory)) < 500 and time.monotonic() < deadline:
            time.sleep(0.005)
    finally:
        print(stop(first, signal.SIGKILL)[-2000:])
    sent_at_kill = len(lines(directory))
    assert 0 < sent_at_kill < n, sent_at_kill  # killed in the middle of sending
    assert Message.objects.filter(status="sending").exists()  # claimed, handed over or not: the worker died

    second = worker_process(queue, redis_url, "second")
    try:
        wait_until_ready(app, queue, 1)
        counts = reconcile.apply_async(queue=queue).get(timeout=120)
        assert counts["unknown"] == 0 and counts["sent"] + counts["requeued"] > 0
        for _ in range(3):  # the dispatcher again (and once more: nothing left)
            dispatch.apply_async(queue=queue).get(timeout=180)
        assert birthday_scan.apply_async(queue=queue).get(timeout=120)["greetings"] == 0  # a second scan: nothing
    finally:
        print(stop(second)[-2000:])
    keys = Counter(lines(directory))
    assert len(keys) == n and max(keys.values()) == 1  # every greeting exactly once
    assert Message.objects.filter(status="sent").count() == n


def test_two_beats_for_a_minute_do_everything_once(care_env, redis_url):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    directory, app, queue = care_env
    birthdays_today(300, ahead=200)
    PeriodicTask.objects.update(enabled=False)
    every, _ = IntervalSchedule.objects.get_or_create(every=2, period=IntervalSchedule.SECONDS)
    for name, task in (("it scan", "campaigns.tasks.birthday_scan"), ("it dispatch", "campaigns.tasks.dispatch")):
        PeriodicTask.objects.create(name=name, task=task, interval=every, queue=queue)
    worker = worker_process(queue, redis_url, "beatworker")
    beats = [subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "crm_project", "beat", "--loglevel=INFO", "--pidfile=",
         "-S", "django_celery_beat.schedulers:DatabaseScheduler", "--max-interval=1"],
        cwd=ROOT, env=celery_env(redis_url), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)]
    try:
        wait_until_ready(app, queue, 1)
        time.sleep(60)
    finally:
        outs = [stop(beat) for beat in beats]
    try:
        time.sleep(5)  # the worker finishes what the beats sent
        dispatch.apply_async(queue=queue).get(timeout=120)
    finally:
        print(stop(worker)[-1500:])
    sent_by_beats = sum(out.count("Sending due task it scan") for out in outs)
    assert sent_by_beats >= 20, outs[0][-1500:]  # both beats really ran (about 30 each)
    keys = Counter(lines(directory))
    assert len(keys) == 300 and max(keys.values()) == 1
    assert Message.objects.count() == 300 and Message.objects.filter(status="sent").count() == 300
    assert FollowUpTask.objects.count() == CareKey.objects.count() == 200
    assert os.path.isdir(directory)
