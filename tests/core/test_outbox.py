"""core.outbox on PostgreSQL: written with the business change, delivered after commit, retried with back-off,
given up with its error, and never run twice by two deliverers at once (real threads, real connections)."""

import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from core import outbox
from core.models import OutboxMessage
from org.models import Branch
from tests.org.builders import BranchFactory

NOW = dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.UTC)
handled: list[int] = []
lock = threading.Lock()


@outbox.handler("test.record")
def _record(payload):
    with lock:
        handled.append(payload["n"])


@outbox.handler("test.fail")
def _fail(payload):
    BranchFactory(code="WRITTEN")  # rolled back with the failed attempt
    raise ConnectionError("SMTP server said no")


inside, release = threading.Event(), threading.Event()


@outbox.handler("test.hold")
def _hold(payload):
    inside.set()
    assert release.wait(30), "the other deliverer never finished"


@pytest.fixture(autouse=True)
def _reset():
    handled.clear()
    inside.clear()
    release.clear()


def _emit(topic, n, *, at=NOW):
    with transaction.atomic():
        message = outbox.emit(topic, {"n": n})
    OutboxMessage.objects.filter(pk=message.pk).update(available_at=at)
    return message


@pytest.mark.django_db(transaction=True)
def test_emit_outside_a_transaction_refuses():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        outbox.emit("test.record", {"n": 1})
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_emit_rolled_back_with_the_change_leaves_nothing():
    with pytest.raises(RuntimeError, match="rolled back"), transaction.atomic():
        BranchFactory(code="GONE")
        outbox.emit("test.record", {"n": 1})
        raise RuntimeError("rolled back")
    assert not OutboxMessage.objects.exists() and not Branch.objects.filter(code="GONE").exists()
    assert outbox.deliver(now=timezone.now()) == {"delivered": 0, "failed": 0, "given_up": 0}


@pytest.mark.django_db
def test_deliver_runs_the_handler_once_and_marks_the_message_delivered():
    first, second = _emit("test.record", 1), _emit("test.record", 2)
    later = _emit("test.record", 3, at=NOW + dt.timedelta(minutes=5))

    assert outbox.deliver(now=NOW) == {"delivered": 2, "failed": 0, "given_up": 0}
    assert handled == [1, 2]
    for message in (first, second):
        message.refresh_from_db()
        assert (message.delivered_at, message.attempts, message.last_error) == (NOW, 1, "")
    assert outbox.deliver(now=NOW) == {"delivered": 0, "failed": 0, "given_up": 0}  # not due, nothing again
    later.refresh_from_db()
    assert later.delivered_at is None and handled == [1, 2]


@pytest.mark.django_db
def test_deliver_takes_at_most_a_batch():
    for n in range(5):
        _emit("test.record", n)
    assert outbox.deliver(now=NOW, batch=3)["delivered"] == 3
    assert outbox.deliver(now=NOW, batch=3)["delivered"] == 2
    assert sorted(handled) == [0, 1, 2, 3, 4]


@pytest.mark.django_db
def test_a_failing_handler_backs_off_doubling_then_gives_up_with_its_error(settings):
    settings.OUTBOX_MAX_ATTEMPTS = 9
    message = _emit("test.fail", 1)
    now, waits = NOW, []
    for _ in range(8):
        assert outbox.deliver(now=now) == {"delivered": 0, "failed": 1, "given_up": 0}
        message.refresh_from_db()
        waits.append(message.available_at - now)
        assert outbox.deliver(now=message.available_at - dt.timedelta(seconds=1))["failed"] == 0  # not before
        now = message.available_at
    assert [w.total_seconds() for w in waits] == [30, 60, 120, 240, 480, 960, 1920, 3600]  # capped at 1 h
    assert outbox.deliver(now=now) == {"delivered": 0, "failed": 0, "given_up": 1}
    message.refresh_from_db()
    assert (message.attempts, message.available_at, message.delivered_at) == (9, None, None)
    assert message.last_error == "ConnectionError: SMTP server said no"
    assert outbox.deliver(now=now + dt.timedelta(days=30))["given_up"] == 0  # given up for good
    assert not Branch.objects.filter(code="WRITTEN").exists()  # what the failed handler wrote went with it


@pytest.mark.django_db
def test_a_topic_without_a_handler_is_retried_like_a_failure():
    message = _emit("test.nobody", 1)
    assert outbox.deliver(now=NOW)["failed"] == 1
    message.refresh_from_db()
    assert message.last_error == "LookupError: no handler for outbox topic 'test.nobody'"


def test_a_topic_takes_one_handler():
    with pytest.raises(ValueError, match="already has a handler"):
        outbox.handler("test.record")(lambda payload: None)


@pytest.mark.django_db
def test_purge_deletes_delivered_messages_past_the_keep_days(settings):
    settings.OUTBOX_KEEP_DAYS = 7
    old, recent, waiting = _emit("test.record", 1), _emit("test.record", 2), _emit("test.record", 3)
    OutboxMessage.objects.filter(pk=old.pk).update(delivered_at=NOW - dt.timedelta(days=8))
    OutboxMessage.objects.filter(pk=recent.pk).update(delivered_at=NOW - dt.timedelta(days=6))
    assert outbox.purge(now=NOW) == 1
    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}


def _in_thread(target):
    """Run ``target`` in a thread with its own database connection; re-raise its exception here."""
    errors = []

    def run():
        try:
            target()
        except BaseException as e:  # noqa: BLE001 - handed to the test, which re-raises it
            errors.append(e)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


@pytest.mark.django_db(transaction=True)
def test_a_message_one_deliverer_holds_is_skipped_by_the_other():
    for n in range(1, 6):
        _emit("test.record", n)
    results = {}
    _emit("test.hold", 0, at=NOW - dt.timedelta(seconds=1))  # the oldest: the first deliverer takes it
    first, first_errors = _in_thread(lambda: results.setdefault("first", outbox.deliver(now=NOW, batch=1)))
    assert inside.wait(30)
    results["second"] = outbox.deliver(now=NOW)  # on this thread's connection, while the first holds its row
    release.set()
    first.join(30)
    assert not first_errors
    assert results == {"first": {"delivered": 1, "failed": 0, "given_up": 0},
                       "second": {"delivered": 5, "failed": 0, "given_up": 0}}
    assert sorted(handled) == [1, 2, 3, 4, 5]
    assert OutboxMessage.objects.filter(delivered_at__isnull=True).count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_deliverers_at_once_run_every_message_exactly_once():
    with transaction.atomic():
        for n in range(60):
            OutboxMessage.objects.create(topic="test.record", payload={"n": n}, available_at=NOW)
    start = threading.Barrier(2)
    counts = []

    def deliverer():
        start.wait(30)
        counts.append(outbox.deliver(now=NOW, batch=100))

    threads = [_in_thread(deliverer) for _ in range(2)]
    for thread, errors in threads:
        thread.join(60)
        assert not errors
    assert sorted(handled) == list(range(60))  # each once
    assert sum(c["delivered"] for c in counts) == 60
    assert OutboxMessage.objects.filter(attempts=1, delivered_at=NOW).count() == 60
