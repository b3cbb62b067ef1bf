"""The access matrix of every complaint page and endpoint: RM of the customer, another RM, an RM of another branch,
the branch's supervisor, another branch's supervisor, head office, a complaint officer of the branch (not handling,
then handling), anonymous, API keys (complaints:read, complaints:write, another scope, a key of another branch).

Target: a complaint of the RM's customer ``c_rm`` at B1, unassigned. Out of scope → 404 (never a hint it exists);
in scope without the right → 403; anonymous → the sign-in page (pages) or 401/403 (API)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from complaints import services
from complaints.constants import Action, Channel
from complaints.models import Complaint
from org.constants import Scope

from ..conftest import principal_client
from .builders import seeded

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 3, 10, 15, 0, tzinfo=TZ)
API = "/api/v1"
STAFF = ["rm", "other_rm", "rm_b2", "sup_b1", "sup_b2", "ho_user", "co_b1"]
KEYS = ["key_read", "key_write", "key_other", "key_b2"]
SEES = {"rm", "sup_b1", "ho_user", "co_b1", "co_handler", "key_read", "key_write"}
WORKS = {"sup_b1", "ho_user", "co_handler", "key_write"}
NOTES = {"rm", "sup_b1", "ho_user", "co_b1", "co_handler", "key_write"}
OVERSEES = {"sup_b1", "sup_b2", "ho_user"}
ANON = {401, 403}


@pytest.fixture(autouse=True)
def pinned():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def target(world):
    seeded()
    from complaints.models import Category

    return services.complaint_open(actor=world.sup_b1, customer=world.c_rm, channel=Channel.HOTLINE,
                                   category=Category.objects.get(code="card_fee"), description="年费争议",
                                   received_at=NOW - dt.timedelta(days=1), now=NOW)


@pytest.fixture
def as_(world, target, client_for, key_client):
    def make(who, *, api=True):
        if who == "co_handler":
            services.complaint_assign(actor=world.sup_b1, complaint=target, handler=world.co_b1, now=NOW)
            who = "co_b1"
        if who in KEYS:
            scopes = {"key_read": [Scope.COMPLAINTS_READ], "key_write": [Scope.COMPLAINTS_READ,
                                                                          Scope.COMPLAINTS_WRITE],
                      "key_other": [Scope.CUSTOMERS_READ, Scope.PII_READ], "key_b2": list(Scope.values)}[who]
            client = key_client(scopes=scopes, branch=world.b2 if who == "key_b2" else None)
            if not api:  # a page asked with an API key: the key is not a session
                return Client(HTTP_AUTHORIZATION=f"Api-Key {client.api_key.raw_key}")
            return client
        if not api:
            client = Client()
            if who != "anonymous":
                client.force_login(getattr(world, who))
            return client
        return principal_client(world, who, client_for=client_for, key_client=key_client)
    return make


PRINCIPALS = [*STAFF, "co_handler", "anonymous", *KEYS]


# ---- pages ----

def page_expect(who, allowed: bool, sees: bool = True, ok=(200, 302)) -> set[int]:
    if who == "anonymous" or who in KEYS:
        return {302}  # the sign-in page
    if not sees:
        return {404}
    return set(ok) if allowed else {403}


@pytest.mark.parametrize("who", PRINCIPALS)
def test_pages_read(as_, target, who):
    client = as_(who, api=False)
    sees = who in SEES
    r = client.get(f"/complaints/{target.pk}/")
    assert r.status_code in page_expect(who, True, sees), r.status_code
    r = client.get("/complaints/")
    if who in ("anonymous", *KEYS):
        assert r.status_code == 302
    else:
        assert r.status_code == 200
        assert (target.number.encode() in r.content) == sees
    for path in ("/complaints/board/", "/complaints/export/"):
        assert client.get(path).status_code in page_expect(who, who in OVERSEES), path
    assert client.get("/complaints/new/").status_code in page_expect(who, who in STAFF or who == "co_handler")
    r = client.get(f"/complaints/new/?customer={target.customer_id}")
    customer_sees = who in {"rm", "sup_b1", "ho_user", "co_b1", "co_handler"}
    assert r.status_code in page_expect(who, True, customer_sees), r.status_code


PAGE_POSTS = {
    "act": (lambda t: {"action": Action.ACKNOWLEDGE, "version": t.version}, WORKS),
    "message": (lambda t: {"text": "您好", "outgoing": "1", "version": t.version}, WORKS),
    "note": (lambda t: {"text": "内部"}, NOTES),
    "change": (lambda t: {"priority": "high", "category": t.category_id, "version": t.version}, WORKS),
    "extension": (lambda t: {"reason": "需调查"}, WORKS),
    "hold": (lambda t: {"held": "1", "note": "调解"}, WORKS),
    "reveal": (lambda t: {}, {"rm", "sup_b1", "ho_user", "co_handler"}),
    "assign": (lambda t: {"handler": "", "version": t.version}, {"sup_b1", "ho_user"}),
}


@pytest.mark.parametrize("who", PRINCIPALS)
@pytest.mark.parametrize("action", list(PAGE_POSTS))
def test_page_actions(as_, target, who, action):
    body, allowed = PAGE_POSTS[action]
    client = as_(who, api=False)
    target.refresh_from_db()
    r = client.post(f"/complaints/{target.pk}/{action}/", body(target))
    expected = page_expect(who, who in allowed and who not in KEYS, who in SEES)
    if who in ("anonymous", *KEYS):
        expected = {302}
    assert r.status_code in expected, (r.status_code, r.content[:300])
    if r.status_code in (403, 404):
        fresh = Complaint.objects.get(pk=target.pk)
        assert fresh.version == target.version or action == "reveal"


# ---- API ----

@pytest.mark.parametrize("who", PRINCIPALS)
def test_api_reads(as_, target, who):
    client = as_(who)
    r = client.get(f"{API}/complaints/")
    if who == "anonymous":
        assert r.status_code in ANON
        return
    if who == "key_other":
        assert r.status_code == 403
        return
    assert r.status_code == 200
    assert [row["number"] for row in r.json()["results"]] == ([target.number] if who in SEES else [])
    r = client.get(f"{API}/complaints/{target.pk}/")
    assert r.status_code == (200 if who in SEES else 404)
    assert client.get(f"{API}/complaints/{target.pk}/timeline/").status_code == (200 if who in SEES else 404)
    settings_visible = who not in {"rm", "other_rm", "rm_b2"}
    assert client.get(f"{API}/sla-policies/").status_code == (200 if settings_visible else 404)
    assert client.get(f"{API}/complaint-categories/").status_code == (200 if settings_visible else 404)


API_POSTS = {
    "transition": (lambda t: {"action": "acknowledge"}, WORKS),
    "messages": (lambda t: {"text": "您好", "outgoing": True}, WORKS),
    "notes": (lambda t: {"text": "内部"}, NOTES),
    "assign": (lambda t: {"handler": None}, {"sup_b1", "ho_user", "key_write"}),
    "extensions": (lambda t: {"reason": "需调查"}, WORKS),
    "hold": (lambda t: {"held": True, "note": "调解"}, WORKS),
}


@pytest.mark.parametrize("who", PRINCIPALS)
@pytest.mark.parametrize("action", list(API_POSTS))
def test_api_actions(as_, target, who, action):
    body, allowed = API_POSTS[action]
    client = as_(who)
    r = client.post(f"{API}/complaints/{target.pk}/{action}/", body(target), format="json")
    if who == "anonymous":
        assert r.status_code in ANON
    elif who in ("key_other", "key_read"):
        assert r.status_code == 403  # the key's scope, before any record is looked at
    elif who not in SEES:
        assert r.status_code == 404
    else:
        assert r.status_code == ((201 if action in ("notes", "extensions") else 200) if who in allowed else 403), \
            r.content


@pytest.mark.parametrize("who", PRINCIPALS)
def test_api_intake_and_settings_writes(as_, world, target, who):
    client = as_(who)
    body = {"customer_cif": world.c_rm.cif, "channel": "hotline", "category": "card_fee", "description": "再次投诉",
            "received_at": "2026-03-10T09:00:00+08:00"}
    r = client.post(f"{API}/complaints/", body, format="json")
    if who == "anonymous":
        assert r.status_code in ANON
        return
    if who in ("key_other", "key_read"):
        assert r.status_code == 403
        return
    customer_sees = who in {"rm", "sup_b1", "ho_user", "co_b1", "co_handler", "key_write"}
    if customer_sees:
        assert r.status_code == 201, r.content
    else:
        assert r.status_code == 400 and "customer_cif" in r.json()["errors"]  # the customer is not theirs
    policy = {"name": "x", "first_response_seconds": 60, "first_response_mode": "calendar",
              "resolution_seconds": 120, "resolution_mode": "calendar"}
    r = client.post(f"{API}/sla-policies/", policy, format="json")
    assert r.status_code == (201 if who == "ho_user" else 404 if who in {"rm", "other_rm", "rm_b2"} else 403)
