"""Access matrix of the segmentation policy: every page and endpoint × every principal.

Policies are head office's (DOMAIN.md §3; segmentation/permissions.py): head office reads and writes them, API keys
with segments:read read them, nobody else sees that they exist.
- pages: anonymous and an API key header → 302 to /login/; staff other than head office → 404 (as for a version
  that does not exist); head office → the page;
- API: anonymous → 401/403; a key without the scope → 403 (the scope check comes first and says nothing about any
  record); a key with segments:read reads (200) but never writes (403); staff other than head office → 404, the
  same answer as for a missing version; head office → the operation.
The target: a published version 1 and an open version 2 drafted (and, where the operation needs it, submitted) by a
second head-office user, so that ``ho_user`` may approve it.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from org.constants import Scope
from segmentation import services
from segmentation.constants import PolicyStatus
from segmentation.models import Policy
from tests.org.builders import HeadOfficeUserFactory

from ..conftest import principal_client
from .builders import published_policy

pytestmark = pytest.mark.django_db

API = "/api/v1/segment-policies"
NOW = dt.datetime(2026, 11, 22, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
STAFF = ["rm", "other_rm", "sup_b1", "sup_b2", "ho_user", "co_b1"]
ANON = {401, 403}


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def target(world):
    """(published version 1, open version 2 by ho2)."""
    ho2 = HeadOfficeUserFactory(username="ho2", branch=world.ho)
    old = published_policy(version=1, created_by=ho2, approved_by=ho2)
    draft = services.policy_draft(actor=ho2)
    world.ho2 = ho2
    return old, draft


def submitted(world, policy):
    return services.policy_submit(actor=world.ho2, policy=policy)


# --- pages ---

PAGE_PRINCIPALS = [*STAFF, "anonymous", "api_key_header"]

PAGES = {
    # name: (method, url(policy), data, needs a submitted version?, head office's status)
    "list": ("get", lambda p: "/segments/policies/", None, False, 200),
    "detail": ("get", lambda p: f"/segments/policies/{p.pk}/", None, False, 200),
    "edit": ("get", lambda p: f"/segments/policies/{p.pk}/edit/", None, False, 200),
    "edit_save": ("post", lambda p: f"/segments/policies/{p.pk}/edit/", "form", False, 302),
    "new": ("post", lambda p: "/segments/policies/new/", None, False, 302),
    "submit": ("post", lambda p: f"/segments/policies/{p.pk}/submit/", None, False, 302),
    "approve_confirm": ("get", lambda p: f"/segments/policies/{p.pk}/approve/", None, True, 200),
    "approve": ("post", lambda p: f"/segments/policies/{p.pk}/approve/", None, True, 302),
    "reject": ("post", lambda p: f"/segments/policies/{p.pk}/reject/", {"reason": "再看看"}, True, 302),
}


def _form(policy) -> dict:
    data = {}
    for field in services.POLICY_FIELDS:
        value = getattr(policy, field)
        if isinstance(value, bool):
            if value:
                data[field] = "on"
        else:
            data[field] = value if isinstance(value, list) else str(value)
    return data | {"note": "改"}


@pytest.fixture
def page_client(world, key_client):
    def make(who):
        if who == "api_key_header":
            return Client(HTTP_AUTHORIZATION=f"Api-Key {key_client().api_key.raw_key}")
        client = Client()
        if who != "anonymous":
            client.force_login(getattr(world, who))
        return client

    return make


@pytest.mark.parametrize("who", PAGE_PRINCIPALS)
@pytest.mark.parametrize("page", list(PAGES))
def test_page_access(world, target, page_client, page, who):
    method, url, data, needs_submitted, ok = PAGES[page]
    _old, policy = target
    if needs_submitted:
        policy = submitted(world, policy)
    before = {p.pk: (p.status, p.note) for p in Policy.objects.all()}
    client = page_client(who)
    data = _form(policy) if data == "form" else data
    response = getattr(client, method)(url(policy), data or {})
    if who in ("anonymous", "api_key_header"):
        assert response.status_code == 302 and response.url.startswith("/login/") and "next=" in response.url
    elif who == "ho_user":
        assert response.status_code == ok, (response.status_code, response.content[:1000])
    else:
        assert response.status_code == 404
        if f"/{policy.pk}/" in url(policy):
            missing = getattr(client, method)(url(policy).replace(f"/{policy.pk}/", "/987654321/"), data or {})
            assert missing.status_code == 404
    if who != "ho_user":
        assert {p.pk: (p.status, p.note) for p in Policy.objects.all()} == before  # nothing changed


@pytest.mark.parametrize("who", STAFF)
def test_nav_link_only_for_head_office(world, page_client, who):
    html = page_client(who).get("/customers/").content.decode()
    assert ('href="/segments/policies/"' in html) == (who == "ho_user")


# --- API ---

API_PRINCIPALS = [*STAFF, "anonymous", "key_read", "key_b2", "key_segments"]
KEY_SCOPES = {"key_read": {Scope.CUSTOMERS_READ, Scope.SNAPSHOTS_READ}, "key_segments": {Scope.SEGMENTS_READ}}
# key_b2 holds every scope (limited to branch B2, which does not matter to policies)


@pytest.fixture
def as_(world, client_for, key_client):
    def make(who):
        if who == "key_segments":
            return key_client(scopes=[Scope.SEGMENTS_READ])
        return principal_client(world, who, client_for=client_for, key_client=key_client)

    return make


ENDPOINTS = {
    # name: (call(client, policy), needs a submitted version?, head office's status, a read?)
    "list": (lambda c, p: c.get(f"{API}/"), False, 200, True),
    "retrieve": (lambda c, p: c.get(f"{API}/{p.pk}/"), False, 200, True),
    "create": (lambda c, p: c.post(f"{API}/", {}, format="json"), False, 409, False),  # v2 is still open
    "partial_update": (lambda c, p: c.patch(f"{API}/{p.pk}/", {"note": "改"}, format="json"), False, 200, False),
    "submit": (lambda c, p: c.post(f"{API}/{p.pk}/submit/"), False, 200, False),
    "approve": (lambda c, p: c.post(f"{API}/{p.pk}/approve/"), True, 200, False),
    "reject": (lambda c, p: c.post(f"{API}/{p.pk}/reject/", {"reason": "再看看"}, format="json"), True, 200, False),
}


def expected_api_status(who, ok, read):
    if who == "anonymous":
        return ANON
    if who.startswith("key"):
        scopes = KEY_SCOPES.get(who, set(Scope.values))
        return {200} if read and Scope.SEGMENTS_READ in scopes else {403}
    if who == "ho_user":
        return {ok}
    return {404}


@pytest.mark.parametrize("who", API_PRINCIPALS)
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_api_access(world, target, as_, endpoint, who):
    call, needs_submitted, ok, read = ENDPOINTS[endpoint]
    _old, policy = target
    if needs_submitted:
        policy = submitted(world, policy)
    before = {p.pk: (p.status, p.note) for p in Policy.objects.all()}
    client = as_(who)
    r = call(client, policy)
    assert r.status_code in expected_api_status(who, ok, read), (r.status_code, r.content)
    body = r.json()
    if r.status_code >= 400:
        assert set(body) == {"code", "detail", "errors"}
    if r.status_code == 404:  # indistinguishable from a version that does not exist
        assert body == client.get(f"{API}/987654321/").json()
    if r.status_code != 200 or read:
        assert {p.pk: (p.status, p.note) for p in Policy.objects.all()} == before


@pytest.mark.parametrize("who", ["ho_user", "key_segments", "key_b2"])
def test_api_list_shows_every_version(world, target, as_, who):
    r = as_(who).get(f"{API}/")
    assert r.status_code == 200
    assert [row["version"] for row in r.json()["results"]] == [2, 1]
    assert r.json()["results"][1]["status"] == PolicyStatus.PUBLISHED


def test_api_create_when_nothing_is_open(world, as_):
    ho2 = HeadOfficeUserFactory(username="ho2", branch=world.ho)
    published_policy(version=1, created_by=ho2)
    r = as_("ho_user").post(f"{API}/", {"note": "新版本"}, format="json")
    assert r.status_code == 201 and r.json()["version"] == 2 and r.json()["status"] == PolicyStatus.DRAFT
