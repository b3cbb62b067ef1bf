"""The access matrix of every campaign page and endpoint: the RM of the contacted customers, another RM of the branch,
an RM of another branch, the branch's supervisor (who prepared the campaigns), another branch's supervisor, head
office, a complaint officer, anonymous, and API keys (campaigns:read, campaigns:write, another scope, a key of another
branch, consents:write).

Targets: a running campaign of branch B1 whose members are three customers of ``rm`` and one of ``other_rm``, and a
draft of B1. A campaign outside the viewer's branches is a 404 (never a hint it exists); in scope without the right,
403; anonymous: the sign-in page (pages), 401/403 (API). A member of a customer outside the viewer's book is a 404."""

import datetime as dt

import pytest
from django.test import Client

from campaigns import services
from campaigns.models import Campaign, Member
from org.constants import Scope
from tests.customers.builders import CustomerFactory
from tests.org.builders import build_org

from .conftest import NOW

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pinned_now")]
API = "/api/v1"
STAFF = ["rm", "other_rm", "rm_b2", "sup_b1", "sup_b2", "ho_user", "co_b1"]
KEYS = ["key_read", "key_write", "key_other", "key_b2", "key_consents"]
PRINCIPALS = [*STAFF, "anonymous", *KEYS]
READERS = {"rm", "other_rm", "rm_b2", "sup_b1", "sup_b2", "ho_user"}  # may read campaigns at all
SEES = {"rm", "other_rm", "sup_b1", "ho_user"}  # …and sees B1's campaigns
MANAGES = {"sup_b1", "ho_user"}
KEY_SCOPES = {"key_read": [Scope.CAMPAIGNS_READ], "key_write": [Scope.CAMPAIGNS_READ, Scope.CAMPAIGNS_WRITE],
              "key_other": [Scope.CUSTOMERS_READ], "key_b2": list(Scope.values),
              "key_consents": [Scope.CONSENTS_WRITE]}



@pytest.fixture
def org(db):
    o = build_org()
    o.mine = [CustomerFactory(rm=o.rm, branch=o.b1, consent_sms=True, tags=["代发工资"]) for _ in range(3)]
    o.theirs = CustomerFactory(rm=o.other_rm, branch=o.b1, consent_sms=True, tags=["代发工资"])
    values = {"name": "代发客户关怀", "audience": {"tags": ["代发工资"]}, "channels": ["sms"],
              "template_zh": "{surname}{honorific}您好", "starts_at": NOW + dt.timedelta(minutes=5)}
    o.running = services.campaign_save(actor=o.sup_b1, values=values, now=NOW)
    services.campaign_approve(actor=o.ho_user, campaign=o.running, now=NOW)
    services.campaign_launch(campaign_id=o.running.pk, now=NOW + dt.timedelta(minutes=5))
    o.running.refresh_from_db()
    o.draft = services.campaign_save(actor=o.sup_b1, values={**values, "name": "草稿"}, now=NOW)
    o.member = Member.objects.get(campaign=o.running, customer=o.mine[0])
    return o


def page_client(org, who, key_client) -> Client:
    client = Client()
    if who in KEYS:  # a page asked with an API key: the key is not a session
        return Client(HTTP_AUTHORIZATION=f"Api-Key {key_client(scopes=KEY_SCOPES[who]).api_key.raw_key}")
    if who != "anonymous":
        client.force_login(getattr(org, who))
    return client


def api_client(org, who, client_for, key_client):
    from rest_framework.test import APIClient

    if who == "anonymous":
        return APIClient()
    if who in KEYS:
        return key_client(scopes=KEY_SCOPES[who], branch=org.b2 if who == "key_b2" else None)
    return client_for(getattr(org, who))


def expect_page(who, *, allowed: bool, sees: bool = True) -> int:
    if who == "anonymous" or who in KEYS:
        return 302  # the sign-in page
    if who not in READERS:
        return 403
    if not sees:
        return 404
    return 200 if allowed else 403


@pytest.mark.parametrize("who", PRINCIPALS)
def test_pages_read(org, key_client, who):
    client = page_client(org, who, key_client)
    sees = who in SEES
    r = client.get("/campaigns/")
    assert r.status_code == expect_page(who, allowed=True)
    if r.status_code == 200:
        assert (org.running.name.encode() in r.content) == sees
    for path in (f"/campaigns/{org.running.pk}/", f"/campaigns/{org.draft.pk}/?preview=1",
                 f"/campaigns/{org.running.pk}/members/"):
        assert client.get(path).status_code == expect_page(who, allowed=True, sees=sees), path
    assert client.get("/campaigns/new/").status_code == expect_page(who, allowed=who in {*MANAGES, "sup_b2"})
    assert client.get(f"/campaigns/{org.draft.pk}/edit/").status_code == expect_page(
        who, allowed=who in MANAGES, sees=sees)
    assert client.get(f"/campaigns/{org.draft.pk}/cancel/").status_code == expect_page(
        who, allowed=who in MANAGES, sees=sees)


@pytest.mark.parametrize("who", ["rm", "other_rm", "sup_b1", "ho_user"])
def test_members_are_those_of_the_viewers_book(org, key_client, who):
    r = page_client(org, who, key_client).get(f"/campaigns/{org.running.pk}/members/")
    shown = {c.cif for c in [*org.mine, org.theirs] if c.cif.encode() in r.content}
    expected = {"rm": {c.cif for c in org.mine}, "other_rm": {org.theirs.cif}}.get(
        who, {c.cif for c in [*org.mine, org.theirs]})
    assert shown == expected


PAGE_POSTS = {  # path → (body, who may; the status after success)
    "approve": (lambda o: (f"/campaigns/{o.draft.pk}/approve/", {"version": o.draft.version}), {"ho_user"}),
    "cancel": (lambda o: (f"/campaigns/{o.draft.pk}/cancel/", {"reason": "预算调整"}), MANAGES),
    "edit": (lambda o: (f"/campaigns/{o.draft.pk}/edit/", {
        "name": "改名", "channels": ["sms"], "control_percent": 0, "attribution_days": 30,
        "template_zh": "您好", "version": o.draft.version, "save": "1"}), MANAGES),
}


@pytest.mark.parametrize("who", PRINCIPALS)
@pytest.mark.parametrize("action", list(PAGE_POSTS))
def test_page_writes(org, key_client, who, action):
    make, allowed = PAGE_POSTS[action]
    path, body = make(org)
    before = Campaign.objects.get(pk=org.draft.pk)
    r = page_client(org, who, key_client).post(path, body)
    expected = expect_page(who, allowed=who in allowed, sees=who in SEES)
    assert r.status_code == (302 if expected == 200 else expected), r.content[:300]
    after = Campaign.objects.get(pk=org.draft.pk)
    if expected == 200:
        assert after.version > before.version
    else:
        assert (after.version, after.status, after.name) == (before.version, before.status, before.name)


@pytest.mark.parametrize("who", PRINCIPALS)
def test_page_outcome(org, key_client, who):
    r = page_client(org, who, key_client).post(
        f"/campaigns/{org.running.pk}/members/{org.member.pk}/outcome/", {"outcome": "interested"})
    sees_member = who in {"rm", "sup_b1", "ho_user"}  # other_rm sees the campaign, not this customer
    if who == "anonymous" or who in KEYS:
        assert r.status_code == 302 and "/login/" in r["Location"]
    elif who not in READERS:
        assert r.status_code == 403
    else:
        assert r.status_code == (302 if sees_member else 404)
    org.member.refresh_from_db()
    assert (org.member.outcome == "interested") == sees_member


@pytest.mark.parametrize("who", PRINCIPALS)
def test_api_reads(org, client_for, key_client, who):
    client = api_client(org, who, client_for, key_client)
    r = client.get(f"{API}/campaigns/")
    if who == "anonymous":
        assert r.status_code in (401, 403)
        return
    if who in ("key_other", "key_consents"):
        assert r.status_code == 403  # the key's scope
        return
    if who not in READERS and who not in KEYS:
        assert r.status_code in (403, 404)
        return
    assert r.status_code == 200
    sees = who in SEES or who in ("key_read", "key_write")
    assert (org.running.pk in [row["id"] for row in r.json()["results"]]) == sees
    for path in (f"campaigns/{org.running.pk}/", f"campaigns/{org.draft.pk}/preview/",
                 f"campaigns/{org.running.pk}/members/"):
        assert client.get(f"{API}/{path}").status_code == (200 if sees else 404), path
    messages = client.get(f"{API}/messages/?campaign={org.running.pk}")
    assert messages.status_code == 200
    expected = {"rm": 3, "other_rm": 1}.get(who, 4 if sees else 0)
    assert len(messages.json()["results"]) == expected


API_WRITES = {
    "approve": (lambda o: ("post", f"campaigns/{o.draft.pk}/approve/", None), {"ho_user"}),
    "cancel": (lambda o: ("post", f"campaigns/{o.draft.pk}/cancel/", None), {"sup_b1", "ho_user", "key_write"}),
    "patch": (lambda o: ("patch", f"campaigns/{o.draft.pk}/", {"name": "改名"}), {"sup_b1", "ho_user", "key_write"}),
}


@pytest.mark.parametrize("who", PRINCIPALS)
@pytest.mark.parametrize("action", list(API_WRITES))
def test_api_writes(org, client_for, key_client, who, action):
    make, allowed = API_WRITES[action]
    method, path, body = make(org)
    client = api_client(org, who, client_for, key_client)
    before = Campaign.objects.get(pk=org.draft.pk)
    r = getattr(client, method)(f"{API}/{path}", body, format="json")
    if who == "anonymous":
        assert r.status_code in (401, 403)
    elif who in ("key_other", "key_consents", "key_read") or (action == "approve" and who in KEYS):
        assert r.status_code == 403  # the key's scope, before any record is looked at (a key never approves)
    elif who in ("rm_b2", "sup_b2", "key_b2"):
        assert r.status_code == 404
    elif who == "co_b1":
        assert r.status_code in (403, 404)
    else:
        assert r.status_code == (200 if who in allowed else 403), r.content
    after = Campaign.objects.get(pk=org.draft.pk)
    assert (after.version > before.version) == (r.status_code == 200)


@pytest.mark.parametrize("who", PRINCIPALS)
def test_api_outcome_and_opt_out(org, client_for, key_client, who):
    client = api_client(org, who, client_for, key_client)
    r = client.post(f"{API}/campaign-members/{org.member.pk}/outcome/", {"outcome": "reached"}, format="json")
    if who == "anonymous":
        assert r.status_code in (401, 403)
    elif who in ("key_other", "key_consents", "key_read"):
        assert r.status_code == 403
    else:
        may = who in {"rm", "sup_b1", "ho_user", "key_write"}
        assert r.status_code == (200 if may else 404) or (who == "co_b1" and r.status_code in (403, 404)), \
            r.status_code
    r = client.post(f"{API}/opt-outs/", {"cif": org.mine[1].cif, "channels": ["sms"]}, format="json")
    if who == "anonymous":
        assert r.status_code in (401, 403)
    elif who in ("key_consents", "rm", "sup_b1", "ho_user"):  # the gateway's key, or staff who see the customer
        assert r.status_code == 201
    elif who in ("key_read", "key_write", "key_other"):
        assert r.status_code == 403  # no consents:write
    else:
        assert r.status_code == 404  # the customer is outside the caller's book or branches
    org.mine[1].refresh_from_db()
    assert org.mine[1].consent_sms == (r.status_code != 201)
