"""Concurrent bulk upserts on real PostgreSQL connections (issue 3 §2, §3).

Two writers, each on its own thread (and so its own database connection), push overlapping batches of
~2,000 records at the same moment, several rounds in a row, a ``threading.Barrier`` making them really
start together. Afterwards: no writer saw an exception (no deadlock, no unique violation), no CIF exists
twice, every record is consistent with one of the two writes and no field is lost (A's address and B's
email both present where the batches overlap, since they touch different fields), and the profile
history has exactly one row per change the writers reported.

Also here: the same through the HTTP endpoint with two API clients, snapshots of the same customers for
two periods at once, customers and snapshots at once, and an Idempotency-Key repeated while the first
request is really still in flight (409).
"""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import IdempotencyRecord
from customers.ingest.kinds import KINDS
from customers.models import Customer, CustomerChange, FinancialSnapshot
from org.access import ApiClient
from org.constants import BranchLevel, Scope
from org.models import ApiKeyUse, Branch

from ..org.builders import ApiKeyFactory, BranchFactory, RMFactory

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 3


def cif(i: int) -> str:
    return f"CC{i:07d}"  # zero-padded: key order is numeric order


@pytest.fixture
def keys(transactional_db):
    ho = BranchFactory(code="HO", level=BranchLevel.HEAD_OFFICE)
    b1 = BranchFactory(code="B1", parent=ho)
    RMFactory(username="rm1", branch=b1)
    scopes = [Scope.CUSTOMERS_WRITE, Scope.SNAPSHOTS_WRITE]
    return {"a": ApiKeyFactory(scopes=scopes), "b": ApiKeyFactory(scopes=scopes)}


def upsert(kind, records, api_key):
    result = KINDS[kind].upsert(records, actor=ApiClient(api_key), today=timezone.localdate(), source="api")
    assert result.rejected == 0, result.errors[:5]
    return result


def seed(api_key, indices):
    for start in range(0, len(indices), 5000):
        upsert("customers", [{"cif": cif(i), "name": f"客户{i}", "branch": "B1", "rm": "rm1"}
                             for i in indices[start:start + 5000]], api_key)


def run_together(*jobs, timeout=120):
    """Run each job on its own thread (its own connection), all released at once by a barrier.

    Returns the jobs' results; re-raises the first exception a job raised."""
    barrier = threading.Barrier(len(jobs))
    results, errors = [None] * len(jobs), []

    def worker(n, job):
        try:
            barrier.wait(timeout=30)
            results[n] = job()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n, job)) for n, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    if errors:
        raise errors[0]
    return results


def wait_for_lock_waiter(timeout=20, count=1):
    """Block until ``count`` backends of this database wait on a lock (writers really in flight)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cur:
        while time.monotonic() < deadline:
            cur.execute("SELECT pg_stat_clear_snapshot()")  # else a transaction keeps seeing its first look
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'")
            if cur.fetchone()[0] >= count:
                return
            time.sleep(0.02)
    raise AssertionError("no writer is waiting on a lock")


def assert_no_duplicate_cifs():
    assert not Customer.objects.values("cif").annotate(n=Count("id")).filter(n__gt=1).exists()


# --------------------------------------------------------------------------------------------------
# Customers: overlapping batches, service level (each thread its own connection)
# --------------------------------------------------------------------------------------------------
def test_overlapping_customer_batches(keys):
    """A: CIFs 0–1999 (address, notes) + new 3000–3499; B: CIFs 1000–2999 (email, notes) + the same
    new 3000–3499 (and 2500–2999 new only to B). Three rounds, new values each round."""
    seed(keys["a"], list(range(2500)))
    baseline_history = CustomerChange.objects.count()
    a_idx = [*range(2000), *range(3000, 3500)]
    b_idx = [*range(1000, 3500)]
    reported = {"created": 0, "updated": 0}
    for r in range(ROUNDS):
        batch_a = [{"cif": cif(i), "name": f"客户{i}", "branch": "B1", "address": f"A{r}-{i}", "notes": f"A{r}"}
                   for i in a_idx]
        batch_b = [{"cif": cif(i), "name": f"客户{i}", "branch": "B1", "email": f"b{r}.{i}@example.com",
                    "notes": f"B{r}"} for i in b_idx]
        res_a, res_b = run_together(lambda batch_a=batch_a: upsert("customers", batch_a, keys["a"]),
                                    lambda batch_b=batch_b: upsert("customers", batch_b, keys["b"]))
        for res in (res_a, res_b):
            assert res.rejected == 0 and res.unchanged == 0  # every record carries a new value each round
            reported["created"] += res.created
            reported["updated"] += res.updated
        # the 500 contested new CIFs (and B's own 500) are created exactly once between the two writers
        assert res_a.created + res_b.created == (1000 if r == 0 else 0)

    assert_no_duplicate_cifs()
    assert Customer.objects.count() == 3500
    last = ROUNDS - 1
    rows = {c: (a, e, n) for c, a, e, n in Customer.objects.values_list("cif", "address", "email", "notes")}
    for i in range(3500):
        address, email, notes = rows[cif(i)]
        in_a, in_b = i in range(2000) or i >= 3000, i >= 1000
        assert address == (f"A{last}-{i}" if in_a else ""), (i, rows[cif(i)])
        assert email == (f"b{last}.{i}@example.com" if in_b else ""), (i, rows[cif(i)])
        # both wrote notes on the overlap: the value is one of the two writes (the later one)
        assert notes in ({f"A{last}", f"B{last}"} if in_a and in_b else {f"A{last}"} if in_a else {f"B{last}"})

    # one history row per change reported; overlapping writers queue (locks in key order), so the second
    # one sees the first one's rows and every update records what it changed
    history = CustomerChange.objects.count() - baseline_history
    assert history == reported["created"] + reported["updated"]
    updates = CustomerChange.objects.exclude(created=True).count()
    assert updates == reported["updated"]
    key_ids = {keys["a"].pk, keys["b"].pk}
    assert set(CustomerChange.objects.values_list("api_key_id", flat=True).distinct()) == key_ids


def test_overlapping_customer_batches_resent_change_nothing(keys):
    """Both writers re-send their last batches at once: all unchanged, no new history."""
    seed(keys["a"], list(range(3000)))
    batch_a = [{"cif": cif(i), "address": f"A-{i}"} for i in range(2000)]
    batch_b = [{"cif": cif(i), "email": f"b.{i}@example.com"} for i in range(1000, 3000)]
    run_together(lambda batch_a=batch_a: upsert("customers", batch_a, keys["a"]), lambda batch_b=batch_b: upsert("customers", batch_b, keys["b"]))
    before = CustomerChange.objects.count()
    for _ in range(2):
        res_a, res_b = run_together(lambda batch_a=batch_a: upsert("customers", batch_a, keys["a"]),
                                    lambda batch_b=batch_b: upsert("customers", batch_b, keys["b"]))
        assert (res_a.unchanged, res_b.unchanged) == (2000, 2000)
        assert res_a.updated == res_b.updated == res_a.created == res_b.created == 0
    assert CustomerChange.objects.count() == before


def test_concurrent_creation_of_the_same_new_customers(keys):
    """No existing row in common: both writers insert the same 1,000 new CIFs at the same time (the
    second waits on the first one's unique-index entries). No duplicate, no error, both fields kept."""
    seed(keys["a"], list(range(2000)))
    for r in range(ROUNDS):
        new = list(range(10_000 + r * 1000, 11_000 + r * 1000))
        batch_a = [{"cif": cif(i), "name": f"客户{i}", "branch": "B1", "address": f"A{r}-{i}"}
                   for i in [*range(1000), *new]]
        batch_b = [{"cif": cif(i), "name": f"客户{i}", "branch": "B1", "email": f"b{r}.{i}@example.com"}
                   for i in [*range(1000, 2000), *new]]
        res_a, res_b = run_together(lambda batch_a=batch_a: upsert("customers", batch_a, keys["a"]),
                                    lambda batch_b=batch_b: upsert("customers", batch_b, keys["b"]))
        assert res_a.created + res_b.created == 1000
        assert res_a.updated + res_b.updated == 3000  # 1,000 + 1,000 existing, 1,000 contested
        got = dict(Customer.objects.filter(cif__in=[cif(i) for i in new]).values_list("cif", "address"))
        assert got == {cif(i): f"A{r}-{i}" for i in new}
        assert set(Customer.objects.filter(cif__in=[cif(i) for i in new]).values_list("email", flat=True)) == {
            f"b{r}.{i}@example.com" for i in new}
    assert_no_duplicate_cifs()
    assert Customer.objects.count() == 2000 + ROUNDS * 1000


# --------------------------------------------------------------------------------------------------
# A deterministic race: the row is created by another transaction while this batch is already writing
# --------------------------------------------------------------------------------------------------
def _hold_then_race(hold, push):
    """Thread A runs ``hold()`` (creates a row) and keeps its transaction open until B's ``push()`` is
    blocked on that row's unique-index entry; then A commits and B's INSERT … ON CONFLICT updates the row
    A created. Returns B's result. A set-up that went wrong is a RuntimeError, not an AssertionError (so
    race tests below cannot pass for the wrong reason)."""
    inserted, results, errors = threading.Event(), {}, []

    def writer_a():
        try:
            with transaction.atomic():
                hold()
                inserted.set()
                wait_for_lock_waiter()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            inserted.set()
            connection.close()

    def writer_b():
        try:
            inserted.wait(20)
            results["b"] = push()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer_a), threading.Thread(target=writer_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors or "b" not in results:
        raise RuntimeError(f"race set-up failed: {errors!r}")
    return results["b"]


def _race_new_customer(keys, batch_b):
    def hold():
        Customer.objects.create(cif="RACE01", name="甲", branch=Branch.objects.get(code="B1"),
                                address="A-地址", notes="A")

    res = _hold_then_race(hold, lambda batch_b=batch_b: upsert("customers", batch_b, keys["b"]))
    if res.updated != 1:
        raise RuntimeError(f"the race did not happen: {res}")
    return res


def test_race_on_a_new_cif_keeps_both_writes(keys):
    res = _race_new_customer(keys, [{"cif": "RACE01", "name": "甲", "branch": "B1", "email": "b@example.com"}])
    assert res.created == 0
    c = Customer.objects.get(cif="RACE01")
    assert (c.address, c.email, c.notes) == ("A-地址", "b@example.com", "A")


def test_race_on_a_new_cif_keeps_fields_the_record_leaves_null(keys):
    res = _race_new_customer(keys, [
        {"cif": "RACE01", "name": "甲", "branch": "B1", "email": "b@example.com"},           # no address, notes
        {"cif": "RACE02", "name": "乙", "branch": "B1", "address": "B-地址", "notes": "B"},  # …but the batch has them
    ])
    assert res.rejected == 0
    c = Customer.objects.get(cif="RACE01")
    assert (c.address, c.email, c.notes) == ("A-地址", "b@example.com", "A")


def test_race_on_a_new_cif_records_the_change_in_history(keys):
    _race_new_customer(keys, [{"cif": "RACE01", "name": "甲", "branch": "B1", "email": "b@example.com"}])
    change = CustomerChange.objects.get(customer__cif="RACE01", api_key=keys["b"])
    assert change.changes == {"email": ["", "b@example.com"]}


def test_race_on_a_new_snapshot_keeps_fields_the_record_leaves_null(keys):
    seed(keys["a"], [1, 2])
    c1 = Customer.objects.get(cif=cif(1))
    res = _hold_then_race(
        lambda: FinancialSnapshot.objects.create(customer=c1, period="2026-01-01", aum=Decimal(5), deposits=Decimal(7)),
        lambda: upsert("snapshots", [{"cif": cif(1), "period": "2026-01-01", "aum": "6"},
                                     {"cif": cif(2), "period": "2026-01-01", "deposits": "1"}], keys["b"]))
    if (res.created, res.updated) != (1, 1):
        raise RuntimeError(f"the race did not happen: {res}")
    snap = FinancialSnapshot.objects.get(customer=c1, period="2026-01-01")
    assert (snap.aum, snap.deposits) == (Decimal(6), Decimal(7))


# --------------------------------------------------------------------------------------------------
# Through the HTTP endpoint: two API clients at once
# --------------------------------------------------------------------------------------------------
def test_overlapping_batches_through_the_api(keys):
    seed(keys["a"], list(range(2000)))
    clients = {}
    for name in ("a", "b"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {keys[name].raw_key}")
        clients[name] = client

    def post(name, records):
        r = clients[name].post("/api/v1/customers/bulk/", {"records": records}, format="json")
        assert r.status_code == 200, r.content[:500]
        return r.json()

    totals = {"created": 0, "updated": 0}
    for r in range(ROUNDS):
        batch_a = [{"cif": cif(i), "name": f"客户{i}", "branch": "B1", "address": f"A{r}-{i}"}
                   for i in [*range(1500), *range(2000, 2500)]]
        batch_b = [{"cif": cif(i), "name": f"客户{i}", "branch": "B1", "email": f"b{r}.{i}@example.com"}
                   for i in range(500, 2500)]
        body_a, body_b = run_together(lambda batch_a=batch_a: post("a", batch_a), lambda batch_b=batch_b: post("b", batch_b))
        for body in (body_a, body_b):
            assert body["rejected"] == 0 and body["unchanged"] == 0 and body["errors"] == []
            totals["created"] += body["created"]
            totals["updated"] += body["updated"]
    assert_no_duplicate_cifs()
    assert Customer.objects.count() == 2500
    last = ROUNDS - 1
    for c, address, email in Customer.objects.filter(cif__in=[cif(i) for i in range(500, 2500)]).values_list(
            "cif", "address", "email"):
        i = int(c[2:])
        if i < 1500 or i >= 2000:
            assert address == f"A{last}-{i}", c
        assert email == f"b{last}.{i}@example.com", c
    assert totals["created"] == 500
    uses = ApiKeyUse.objects.filter(path="/api/v1/customers/bulk/")
    assert uses.count() == 2 * ROUNDS and set(uses.values_list("status", flat=True)) == {200}
    assert sum(u.counts["created"] + u.counts["updated"] for u in uses) == totals["created"] + totals["updated"]


# --------------------------------------------------------------------------------------------------
# Snapshots for two periods at once; customers and snapshots at once
# --------------------------------------------------------------------------------------------------
def test_concurrent_snapshots_of_two_periods(keys):
    """A pushes September for customers 0–1999, B October for 1000–2999, at once and repeatedly: no
    deadlock between the two latest-figure refreshes, and aum_latest is October's where there is one."""
    seed(keys["a"], list(range(3000)))
    for r in range(ROUNDS):
        batch_a = [{"cif": cif(i), "period": "2026-09-01", "aum": f"{r}0{i}"} for i in range(2000)]
        batch_b = [{"cif": cif(i), "period": "2026-10-01", "aum": f"{r}1{i}"} for i in range(1000, 3000)]
        res_a, res_b = run_together(lambda batch_a=batch_a: upsert("snapshots", batch_a, keys["a"]),
                                    lambda batch_b=batch_b: upsert("snapshots", batch_b, keys["b"]))
        assert res_a.created + res_a.updated == 2000 and res_b.created + res_b.updated == 2000
    last = ROUNDS - 1
    assert FinancialSnapshot.objects.count() == 4000
    for c, aum in Customer.objects.values_list("cif", "aum_latest"):
        i = int(c[2:])
        assert aum == Decimal(f"{last}1{i}" if i >= 1000 else f"{last}0{i}"), c


def test_latest_figures_follow_the_latest_period_when_two_periods_commit_together(keys):
    """Deterministic version of the race above: the October push and a September push both reach the
    aum_latest refresh while the customer rows are held, October first. October commits first; the
    September push must not then put its own (older) view of the latest figure back."""
    seed(keys["a"], [1])
    c = Customer.objects.get(cif=cif(1))
    FinancialSnapshot.objects.create(customer=c, period="2026-08-01", aum=Decimal(100))
    errors = []

    def push(period, aum):
        try:
            upsert("snapshots", [{"cif": cif(1), "period": period, "aum": aum}], keys["a"])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    with transaction.atomic():
        # the refresh UPDATE needs this lock; the snapshot INSERT (key share) does not
        Customer.objects.select_for_update(no_key=True).get(pk=c.pk)
        october = threading.Thread(target=push, args=("2026-10-01", "300"))
        october.start()
        wait_for_lock_waiter(count=1)
        september = threading.Thread(target=push, args=("2026-09-01", "200"))
        september.start()
        wait_for_lock_waiter(count=2)
    october.join(30)
    september.join(30)
    assert not errors, errors
    c.refresh_from_db()
    assert c.aum_latest == Decimal(300)


def test_customers_and_snapshots_of_the_same_customers_at_once(keys):
    """Customer updates lock customers in CIF order; snapshot inserts take key-share locks and refresh
    aum_latest in id order. Customers created in reverse CIF order make the two orders disagree."""
    seed(keys["a"], list(range(3000, 0, -1)))
    for r in range(ROUNDS):
        batch_a = [{"cif": cif(i), "address": f"A{r}-{i}"} for i in range(1, 3001)]
        batch_b = [{"cif": cif(i), "period": "2026-10-01", "aum": f"{r + 1}{i}"} for i in range(1, 3001)]
        run_together(lambda batch_a=batch_a: upsert("customers", batch_a, keys["a"]),
                     lambda batch_b=batch_b: upsert("snapshots", batch_b, keys["b"]))
    last = ROUNDS - 1
    for c, address, aum in Customer.objects.values_list("cif", "address", "aum_latest"):
        i = int(c[2:])
        assert address == f"A{last}-{i}" and aum == Decimal(f"{last + 1}{i}"), c


# --------------------------------------------------------------------------------------------------
# Idempotency-Key: a repeat while the first request is really in flight
# --------------------------------------------------------------------------------------------------
def test_repeat_while_the_first_request_is_in_flight_is_409(keys):
    seed(keys["a"], [1])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {keys['a'].raw_key}")
    body = {"records": [{"cif": cif(1), "address": "新地址"}]}
    first = {}

    def send_first():
        try:
            first["response"] = client.post("/api/v1/customers/bulk/", body, format="json",
                                            HTTP_IDEMPOTENCY_KEY="in-flight")
        finally:
            connection.close()

    with transaction.atomic():
        # hold the customer's row: the first request gets as far as locking it, and waits there
        Customer.objects.select_for_update().get(cif=cif(1))
        thread = threading.Thread(target=send_first)
        thread.start()
        wait_for_lock_waiter()
        assert IdempotencyRecord.objects.get(key="in-flight").status is None
        second = client.post("/api/v1/customers/bulk/", body, format="json", HTTP_IDEMPOTENCY_KEY="in-flight")
        assert second.status_code == 409, second.content
        assert second.json()["code"] == "idempotency_conflict"
        other_body = client.post("/api/v1/customers/bulk/", {"records": []}, format="json",
                                 HTTP_IDEMPOTENCY_KEY="in-flight")
        assert other_body.status_code == 422
    thread.join(30)
    assert first["response"].status_code == 200 and first["response"].json()["updated"] == 1
    replay = client.post("/api/v1/customers/bulk/", body, format="json", HTTP_IDEMPOTENCY_KEY="in-flight")
    assert replay.status_code == 200 and replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first["response"].json()
    changes = CustomerChange.objects.filter(customer__cif=cif(1), api_key=keys["a"]).exclude(created=True)
    assert changes.count() == 1


def test_two_identical_requests_at_once_apply_once(keys):
    """Both start together with the same key and body: one applies it, the other gets 409 or (if the
    first already finished) the replay; never two applications."""
    seed(keys["a"], list(range(2000)))
    clients = []
    for _ in range(2):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {keys['a'].raw_key}")
        clients.append(client)
    body = {"records": [{"cif": cif(i), "address": f"X-{i}"} for i in range(2000)]}

    def send(n):
        r = clients[n].post("/api/v1/customers/bulk/", body, format="json", HTTP_IDEMPOTENCY_KEY="twice")
        return r.status_code, r.json(), r.get("Idempotent-Replayed")

    results = run_together(lambda: send(0), lambda: send(1))
    statuses = sorted(s for s, _, _ in results)
    assert statuses in ([200, 200], [200, 409]), results
    applied = [b for s, b, replayed in results if s == 200 and replayed is None]
    assert len(applied) == 1 and applied[0]["updated"] == 2000
    assert CustomerChange.objects.exclude(created=True).count() == 2000
