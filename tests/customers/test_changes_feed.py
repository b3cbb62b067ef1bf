"""GET /api/v1/customers/changes/: stable, resumable, scoped; a late commit is never skipped.

The feed serves committed transactions only, so these tests commit for real (``world_tx``).
"""

import threading

import pytest
from django.db import connection, transaction

from customers.models import Customer
from org.constants import Scope

from .builders import CustomerFactory

URL = "/api/v1/customers/changes/"


def pages(client, since="", limit=500):
    """Follow the feed to its end: (all rows, final cursor)."""
    rows = []
    while True:
        body = client.get(URL, {"since": since, "limit": limit}).json()
        rows += body["results"]
        since = body["cursor"]
        if not body["has_more"]:
            return rows, since


def test_feed_returns_every_change_once_then_resumes(world_tx, key_client):
    world = world_tx
    client = key_client(scopes=[Scope.CUSTOMERS_READ])
    rows, cursor = pages(client, limit=2)
    assert sorted(r["id"] for r in rows) == sorted(c.pk for c in world.customers.values())
    assert all("*" in r["mobile"] for r in rows)  # masked without pii:read
    assert pages(client, since=cursor)[0] == []  # up to date

    c = world.c_rm
    Customer.objects.filter(pk=c.pk).update(address="新地址")
    new = CustomerFactory(rm=world.rm, branch=world.b1)
    rows, cursor2 = pages(client, since=cursor)
    assert [r["id"] for r in rows] == [c.pk, new.pk]  # oldest change first
    assert pages(client, since=cursor2)[0] == []


def test_feed_is_scoped_to_the_keys_branch(world_tx, key_client):
    world = world_tx
    client = key_client(scopes=[Scope.CUSTOMERS_READ], branch=world.b2)
    rows, _ = pages(client)
    assert [r["id"] for r in rows] == [world.customers["c_b2"].pk]


def test_staff_see_only_their_scope(world_tx, client_for):
    world = world_tx
    rows, _ = pages(client_for(world.rm))
    assert {r["id"] for r in rows} == world.visible_customer_ids("rm")


@pytest.mark.parametrize("params", [{"since": "not-a-cursor"}, {"since": "%%%"}, {"limit": "0"},
                                    {"limit": "5001"}, {"limit": "x"}])
def test_bad_cursor_or_limit_is_a_field_error(world_tx, key_client, params):
    response = key_client(scopes=[Scope.CUSTOMERS_READ]).get(URL, params)
    assert response.status_code == 400
    assert set(response.json()["errors"]) <= {"since", "limit"} and response.json()["errors"]


def test_feed_needs_the_read_scope(world_tx, key_client):
    assert key_client(scopes=[Scope.SNAPSHOTS_READ]).get(URL).status_code == 403


def test_query_count_is_constant(world_tx, key_client, django_assert_max_num_queries):
    world = world_tx
    client = key_client(scopes=[Scope.CUSTOMERS_READ])
    for _ in range(20):
        CustomerFactory(rm=world.rm, branch=world.b1)
    with django_assert_max_num_queries(8):
        assert len(client.get(URL, {"limit": 50}).json()["results"]) == 24


def test_a_write_that_commits_late_is_not_skipped(key_client, world_tx):
    """A transaction that started before a reader's page but commits after it must still reach the
    reader: the feed serves only transactions older than every one still running."""
    world = world_tx
    client = key_client(scopes=[Scope.CUSTOMERS_READ])
    _, cursor = pages(client)

    written, release, done = threading.Event(), threading.Event(), threading.Event()

    def slow_writer():
        try:
            with transaction.atomic():
                Customer.objects.filter(pk=world.c_rm.pk).update(address="慢事务")
                written.set()
                release.wait(10)
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert written.wait(10)
    # A later, fast transaction commits first.
    Customer.objects.filter(pk=world.customers["c_other"].pk).update(address="快事务")
    rows, cursor_mid = pages(client, since=cursor)
    assert rows == []  # held back: an older transaction is still open
    release.set()
    assert done.wait(10)
    thread.join()
    rows, _ = pages(client, since=cursor_mid)
    assert {r["id"] for r in rows} == {world.c_rm.pk, world.customers["c_other"].pk}


def test_set_based_writes_and_stale_saves_are_stamped_with_their_transaction(world_tx, key_client):
    """The bulk statements write the stamp themselves (the trigger's condition then skips its function); an
    ORM save that carries an older stamp is stamped anew by the trigger."""
    world = world_tx
    client = key_client(scopes=[Scope.CUSTOMERS_READ, Scope.CUSTOMERS_WRITE])
    _, cursor = pages(client)
    c = world.c_rm
    response = client.post("/api/v1/customers/bulk/", {"records": [
        {"cif": c.cif, "address": "甲地"}, {"cif": "FEED0001", "name": "新客户", "branch": "B1"}]}, format="json")
    assert response.status_code == 200 and response.json()["rejected"] == 0
    new = Customer.objects.get(cif="FEED0001")
    assert Customer.objects.get(pk=c.pk).change_txid == new.change_txid is not None
    rows, cursor = pages(client, since=cursor)
    assert {r["id"] for r in rows} == {c.pk, new.pk}

    with transaction.atomic():
        stale = Customer.objects.get(pk=c.pk)
        stale.change_txid, stale.occupation = 1, "教师"
        stale.save()
        with connection.cursor() as cur:
            cur.execute("SELECT pg_current_xact_id()::text::bigint")
            txid = cur.fetchone()[0]
    assert Customer.objects.get(pk=c.pk).change_txid == txid
    assert [r["id"] for r in pages(client, since=cursor)[0]] == [c.pk]
