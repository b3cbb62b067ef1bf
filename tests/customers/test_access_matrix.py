"""Access matrix of the customers API: every principal × every endpoint.

Target object: the RM's customer ``c_rm`` at branch B1 (and its snapshot, holding, interaction, task).
Rules (DOMAIN.md §1, DESIGN.md Tests):
- out-of-scope detail/update/action → 404 (never 403: a 403 would confirm the record exists);
- lists never include out-of-scope rows;
- anonymous → 401/403;
- an API key lacking the scope for an action → 403 (that reveals nothing about any record).
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from customers.models import FinancialSnapshot, FollowUpTask, Holding, Interaction

from ..conftest import principal_client

pytestmark = pytest.mark.django_db

API = "/api/v1"
NOW = dt.datetime(2026, 11, 22, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))

PRINCIPALS = ["rm", "other_rm", "sup_b1", "sup_b2", "ho_user", "co_b1", "anonymous", "key_read", "key_b2"]
ANON = {401, 403}


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def as_(world, client_for, key_client):
    return lambda who: principal_client(world, who, client_for=client_for, key_client=key_client)


def sees(world, who) -> bool:
    return world.c_rm.pk in world.visible_customer_ids(who)


# --- lists: exactly the principal's scope ---

LISTS = {
    "customers": (lambda ids: ids, None),
    "snapshots": (lambda ids: set(FinancialSnapshot.objects.filter(customer_id__in=ids).values_list("id", flat=True)),
                  "snapshots:read"),
    "holdings": (lambda ids: set(Holding.objects.filter(customer_id__in=ids).values_list("id", flat=True)),
                 "snapshots:read"),
    "interactions": (lambda ids: set(Interaction.objects.filter(customer_id__in=ids).values_list("id", flat=True)),
                     None),
    "tasks": (lambda ids: set(FollowUpTask.objects.filter(customer_id__in=ids).values_list("id", flat=True)), None),
}


@pytest.mark.parametrize("who", PRINCIPALS)
@pytest.mark.parametrize("endpoint", list(LISTS))
def test_list_shows_exactly_the_scope(world, as_, endpoint, who):
    r = as_(who).get(f"{API}/{endpoint}/?page_size=200")
    if who == "anonymous":
        assert r.status_code in ANON
        return
    assert r.status_code == 200, r.content
    expected = LISTS[endpoint][0](world.visible_customer_ids(who))
    got = {row["id"] for row in r.json()["results"]}
    assert got == set(expected)
    assert r.json()["count"] == len(expected)


@pytest.mark.parametrize("who", ["rm", "sup_b1", "key_b2"])
def test_list_filters_cannot_widen_the_scope(world, as_, who):
    client = as_(who)
    visible = world.visible_customer_ids(who)
    for query in (f"branch={world.b2.pk}", f"branch={world.ho.pk}", f"rm={world.rm_b2.pk}", f"rm={world.other_rm.pk}",
                  f"q={world.customers['c_b2'].cif}", "tag=VIP"):
        r = client.get(f"{API}/customers/?{query}")
        if r.status_code == 400:  # a branch or RM outside the scope is not a valid choice
            assert set(r.json()["errors"]) <= {"branch", "rm"}, query
            continue
        assert r.status_code == 200
        assert {row["id"] for row in r.json()["results"]} <= visible, query
    for query in (f"customer={world.customers['c_b2'].pk}", f"cif={world.customers['c_b2'].cif}"):
        for endpoint in ("snapshots", "holdings"):
            r = client.get(f"{API}/{endpoint}/?{query}")
            assert r.status_code == 200
            assert {row["customer"] for row in r.json()["results"]} <= visible, (endpoint, query)


# --- object endpoints ---

def _detail(path):
    def call(client, world):
        return client.get(f"{API}/{path(world)}/")
    return call


OBJECT_ENDPOINTS = {
    "customer_detail": (_detail(lambda w: f"customers/{w.c_rm.pk}"), 200, "customers:read"),
    "customer_update": (lambda c, w: c.patch(f"{API}/customers/{w.c_rm.pk}/", {"occupation": "教师"}, format="json"),
                        200, "customers:write"),
    "customer_put": (lambda c, w: c.put(f"{API}/customers/{w.c_rm.pk}/", {
        "cif": w.c_rm.cif, "kind": w.c_rm.kind, "name": w.c_rm.name, "branch": w.b1.pk, "rm": w.rm.pk},
        format="json"), 200, "customers:write"),
    "customer_reveal": (lambda c, w: c.post(f"{API}/customers/{w.c_rm.pk}/reveal/", {"field": "mobile", "reason": "customer_request"},
                                            format="json"), 200, "pii:read"),
    "snapshot_detail": (_detail(lambda w: f"snapshots/{w.snapshots['c_rm'].pk}"), 200, "snapshots:read"),
    "holding_detail": (_detail(lambda w: f"holdings/{w.holdings['c_rm'].pk}"), 200, "snapshots:read"),
    "interaction_detail": (_detail(lambda w: f"interactions/{w.interactions['c_rm'].pk}"), 200, "customers:read"),
    "task_detail": (_detail(lambda w: f"tasks/{w.tasks['c_rm'].pk}"), 200, "customers:read"),
    "task_complete": (lambda c, w: c.post(f"{API}/tasks/{w.tasks['c_rm'].pk}/complete/", {"outcome": "已联系"},
                                          format="json"), 200, "interactions:write"),
    "task_snooze": (lambda c, w: c.post(f"{API}/tasks/{w.tasks['c_rm'].pk}/snooze/", {"until": "2030-06-01"},
                                        format="json"), 200, "interactions:write"),
}

KEY_SCOPES = {"key_read": {"customers:read", "snapshots:read"}}  # key_b2 holds every scope


def expected_object_status(world, who, ok, scope):
    if who == "anonymous":
        return ANON
    if who in KEY_SCOPES and scope not in KEY_SCOPES[who]:
        return {403}  # the scope check comes first and says nothing about the record
    if not sees(world, who):
        return {404}
    return {ok}


@pytest.mark.parametrize("who", PRINCIPALS)
@pytest.mark.parametrize("endpoint", list(OBJECT_ENDPOINTS))
def test_object_endpoints(world, as_, endpoint, who):
    call, ok, scope = OBJECT_ENDPOINTS[endpoint]
    r = call(as_(who), world)
    assert r.status_code in expected_object_status(world, who, ok, scope), (r.status_code, r.content)
    body = r.json()
    if r.status_code >= 400:
        assert set(body) == {"code", "detail", "errors"}
    if r.status_code == 404:
        # indistinguishable from a record that does not exist
        missing = as_(who).get(f"{API}/customers/987654321/")
        assert body == missing.json()
        if endpoint == "customer_reveal":
            from org.models import PiiAccessLog

            assert not PiiAccessLog.objects.exists()


@pytest.mark.parametrize("who", PRINCIPALS)
def test_out_of_scope_update_changes_nothing(world, as_, who):
    as_(who).patch(f"{API}/customers/{world.c_rm.pk}/", {"occupation": "黑客"}, format="json")
    world.c_rm.refresh_from_db()
    assert (world.c_rm.occupation == "黑客") == (sees(world, who) and who != "key_read" and who != "anonymous")


# --- creates ---

def _customer_payload(world):
    return {"cif": "C700000001", "kind": "individual", "name": "吴建国", "branch": world.b1.pk}


CREATE_EXPECTED = {
    # principal: status for "a new customer at B1"
    "rm": {201}, "other_rm": {201}, "sup_b1": {201}, "ho_user": {201},
    "sup_b2": {400},  # outside the supervisor's subtree: a field error on branch
    "key_b2": {400},  # the key is limited to B2
    "co_b1": {403}, "key_read": {403}, "anonymous": ANON,
}


@pytest.mark.parametrize("who", PRINCIPALS)
def test_customer_create(world, as_, who):
    r = as_(who).post(f"{API}/customers/", _customer_payload(world), format="json")
    assert r.status_code in CREATE_EXPECTED[who], (r.status_code, r.content)
    if r.status_code == 400:
        assert "branch" in r.json()["errors"]


@pytest.mark.parametrize("who", PRINCIPALS)
@pytest.mark.parametrize("endpoint", ["interactions", "tasks"])
def test_interaction_and_task_create(world, as_, endpoint, who):
    payload = {"customer": world.c_rm.pk}
    if endpoint == "interactions":
        payload |= {"channel": "phone", "occurred_at": "2026-11-22T09:00:00+08:00", "outcome": "reached"}
    else:
        payload |= {"title": "回访", "due_date": "2026-12-01"}
    client = as_(who)
    r = client.post(f"{API}/{endpoint}/", payload, format="json")
    if who == "anonymous":
        assert r.status_code in ANON
    elif who == "key_read":
        assert r.status_code == 403  # no interactions:write
    elif sees(world, who):
        assert r.status_code == 201, r.content
    else:
        # an out-of-scope customer is answered exactly like one that does not exist
        assert r.status_code == 400
        missing = client.post(f"{API}/{endpoint}/", payload | {"customer": 987654321}, format="json")
        assert r.json()["errors"]["customer"] == [
            m.replace("987654321", str(world.c_rm.pk)) for m in missing.json()["errors"]["customer"]]
