"""Two people change the same complaint at once, on real concurrent connections (threads, each its own PostgreSQL
connection): one wins, the other gets a conflict — 409 in the API, a message on the page with what they typed
kept — and nothing is lost or applied twice.

Both requests are sent while a third connection holds the complaint's row lock, so both are inside the service
waiting on the same row when it is released: a real race, every run."""

import datetime as dt
import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from complaints import services
from complaints.constants import Action, Channel, Status
from complaints.models import Category, Complaint, ComplaintEvent
from tests.complaints.builders import seeded

pytestmark = pytest.mark.django_db(transaction=True)


def _open(world):
    seeded()
    now = timezone.now()
    complaint = services.complaint_open(actor=world.sup_b1, customer=world.c_rm, channel=Channel.HOTLINE,
                                        category=Category.objects.get(code="card_fee"), description="并发测试",
                                        received_at=now - dt.timedelta(hours=2), now=now)
    return services.complaint_assign(actor=world.sup_b1, complaint=complaint, handler=world.co_b1, now=now)


def _race(pk, requests):
    """Run each ``request()`` in its own thread while the complaint's row is locked; return their responses."""
    results, started = [None] * len(requests), threading.Barrier(len(requests) + 1)

    def run(i, request):
        try:
            started.wait()
            results[i] = request()
        finally:
            connections.close_all()

    with transaction.atomic():
        Complaint.objects.select_for_update().get(pk=pk)  # both requests will wait on this lock
        threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(requests)]
        for thread in threads:
            thread.start()
        started.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until both are blocked on the row lock
            with connection.cursor() as cur:  # (the statistics are a snapshot per transaction: clear it)
                cur.execute("SELECT pg_stat_clear_snapshot()")
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND datname = current_database()")
                waiting = cur.fetchone()[0]
                if waiting >= len(requests):
                    break
            time.sleep(0.02)
        else:
            pytest.fail(f"only {waiting} of {len(requests)} requests reached the row lock")
    for thread in threads:
        thread.join(30)
    return results


def test_two_api_clients_acknowledge_and_resolve_at_once_one_gets_409(world_tx):
    complaint = _open(world_tx)
    clients = []
    for user in (world_tx.co_b1, world_tx.sup_b1):
        client = APIClient()
        client.force_login(user)
        clients.append(client)
    url = f"/api/v1/complaints/{complaint.pk}/transition/"
    responses = _race(complaint.pk, [
        lambda: clients[0].post(url, {"action": "acknowledge", "note": "甲", "version": 2}, format="json"),
        lambda: clients[1].post(url, {"action": "resolve", "note": "乙", "version": 2}, format="json")])
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409], [r.content for r in responses]
    loser = next(r for r in responses if r.status_code == 409)
    assert loser.json()["code"] == "conflict"
    fresh = Complaint.objects.get(pk=complaint.pk)
    assert fresh.version == 3
    transitions = list(ComplaintEvent.objects.filter(complaint=fresh, kind="transition", from_status__gt="")
                       .values_list("text", flat=True))
    assert len(transitions) == 1  # exactly the winner's change, once
    assert fresh.status == (Status.ACKNOWLEDGED if transitions == ["甲"] else Status.RESOLVED)


def test_two_people_on_the_page_one_gets_a_message_and_keeps_what_they_typed(world_tx):
    complaint = _open(world_tx)
    clients = []
    for user in (world_tx.co_b1, world_tx.sup_b1):
        client = Client()
        client.force_login(user)
        clients.append(client)
    url = f"/complaints/{complaint.pk}/act/"
    responses = _race(complaint.pk, [
        lambda: clients[0].post(url, {"action": Action.ACKNOWLEDGE, "version": 2, "note": "经办人已致电客户"}),
        lambda: clients[1].post(url, {"action": Action.WITHDRAW, "version": 2, "note": "客户来电撤诉"})])
    codes = sorted(r.status_code for r in responses)
    assert codes == [302, 409]
    loser = next(r for r in responses if r.status_code == 409)
    typed = "经办人已致电客户" if responses[0].status_code == 409 else "客户来电撤诉"
    assert typed.encode() in loser.content and b"alert-danger" in loser.content and b'data-testid="kept"' in loser.content
    assert Complaint.objects.get(pk=complaint.pk).version == 3
