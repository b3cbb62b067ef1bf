"""Access matrix of the segmentation book's pages and endpoints (overdue contacts, downgrade watch, overrides,
the assignments and overrides API): every principal × every page and endpoint.

Target: the RM's customer ``c_rm`` at branch B1, with an active override set by the B1 supervisor.
Rules (DOMAIN.md §1, DESIGN.md Tests), as in tests/customers/test_access_matrix.py and test_views_access.py:
- out of scope → 404 (never 403: a 403 would confirm the record exists);
- lists show exactly the viewer's scope;
- a role or an API key without the permission or scope → 403 (it reveals nothing about any record);
- anonymous: pages → 302 to /login/, API → 401/403.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from core.models import AuditEvent
from customers.models import Interaction
from org.constants import Scope
from segmentation import services
from segmentation.constants import ValueTier
from segmentation.models import Assignment, Override

from ..conftest import principal_client
from .builders import build_segmented_world

pytestmark = pytest.mark.django_db

API = "/api/v1"
NOW = dt.datetime(2026, 11, 22, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
TODAY = NOW.date()
ANON = {401, 403}
API_PRINCIPALS = ["rm", "other_rm", "sup_b1", "sup_b2", "ho_user", "co_b1", "anonymous", "key_read",
                  "key_segments", "key_b2"]
STAFF = ["rm", "other_rm", "sup_b1", "sup_b2", "ho_user", "co_b1"]
PAGE_PRINCIPALS = [*STAFF, "anonymous", "api_key_header"]
SEES_TIERS = {"rm", "other_rm", "rm_b2", "sup_b1", "sup_b2", "ho_user", "key_segments", "key_b2"}
PINS = {"sup_b1", "sup_b2", "ho_user"}


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db):
    """The segmented world, nobody contacted (so every classified customer is overdue), an override on c_rm."""
    w = build_segmented_world()
    Interaction.objects.all().delete()
    w.override = services.override_set(actor=w.sup_b1, customer=w.c_rm, value_tier=ValueTier.SECONDARY, card_tier="",
                                       reason="战略客户", expires_on=TODAY + dt.timedelta(days=30), today=TODAY)
    return w


def visible(world, who) -> set[int]:
    if who == "key_segments":
        return {c.pk for c in world.customers.values()}
    return world.visible_customer_ids(who)


def sees(world, who) -> bool:
    return world.c_rm.pk in visible(world, who)


@pytest.fixture
def as_(world, client_for, key_client):
    def make(who):
        if who == "key_segments":
            return key_client(scopes=[Scope.SEGMENTS_READ])
        return principal_client(world, who, client_for=client_for, key_client=key_client)
    return make


# --- API lists: exactly the scope ---

API_LISTS = {
    "assignments": lambda w: f"{API}/segment-assignments/?page_size=200",
    "history_of_run": lambda w: f"{API}/segment-assignments/history/?run={w.run.pk}&page_size=200",
    "overrides": lambda w: f"{API}/segment-overrides/?page_size=200",
}


@pytest.mark.parametrize("who", API_PRINCIPALS)
@pytest.mark.parametrize("endpoint", list(API_LISTS))
def test_api_lists_show_exactly_the_scope(world, as_, endpoint, who):
    r = as_(who).get(API_LISTS[endpoint](world))
    if who == "anonymous":
        assert r.status_code in ANON
        return
    if who not in SEES_TIERS:  # the complaint officer; a key without segments:read
        assert r.status_code == 403, r.content
        assert set(r.json()) == {"code", "detail", "errors"}
        return
    assert r.status_code == 200, r.content
    expected = visible(world, who)
    if endpoint == "overrides":
        expected &= {world.c_rm.pk}
    assert {row["customer"] for row in r.json()["results"]} == expected
    assert r.json()["count"] == len(expected)


@pytest.mark.parametrize("who", ["rm", "sup_b1", "key_b2"])
def test_api_filters_cannot_widen_the_scope(world, as_, who):
    client = as_(who)
    mine = visible(world, who)
    b2 = world.customers["c_b2"]
    for url in (f"{API}/segment-assignments/?branch={world.b2.pk}", f"{API}/segment-assignments/?rm={world.rm_b2.pk}",
                f"{API}/segment-assignments/?cif={b2.cif}", f"{API}/segment-assignments/?customer={b2.pk}",
                f"{API}/segment-assignments/history/?customer={b2.pk}",
                f"{API}/segment-assignments/history/?cif={world.c_rm.cif}",
                f"{API}/customers/?value_tier=ordinary", f"{API}/customers/?exit_review=true"):
        r = client.get(url)
        if r.status_code == 400:  # a branch or RM outside the scope is not a valid choice
            assert set(r.json()["errors"]) <= {"branch", "rm"}, url
            continue
        assert r.status_code == 200, (url, r.content)
        ids = {row.get("customer", row.get("id")) for row in r.json()["results"]}
        assert ids <= mine, url


# --- API object endpoints ---

def _set(client, world):
    return client.post(f"{API}/segment-overrides/", {"customer": world.c_rm.pk, "value_tier": "important",
                                                     "reason": "战略客户", "expires_on": "2026-12-31"},
                       format="json")


def _end(client, world):
    return client.post(f"{API}/segment-overrides/{world.override.pk}/end/", format="json")


API_WRITES = {"override_set": (_set, 201), "override_end": (_end, 200)}


def expected_api_write(world, who, endpoint, ok):
    if who == "anonymous":
        return ANON
    if who not in PINS:
        return {403}  # no permission to pin tiers at all (keys never pin: an override names its supervisor)
    if not sees(world, who):
        return {400} if endpoint == "override_set" else {404}  # set: the customer is not a valid choice
    return {ok}


@pytest.mark.parametrize("who", API_PRINCIPALS)
@pytest.mark.parametrize("endpoint", list(API_WRITES))
def test_api_writes(world, as_, endpoint, who):
    call, ok = API_WRITES[endpoint]
    client = as_(who)
    events = AuditEvent.objects.count()
    r = call(client, world)
    expected = expected_api_write(world, who, endpoint, ok)
    assert r.status_code in expected, (r.status_code, r.content)
    body = r.json()
    if r.status_code >= 400:
        assert set(body) == {"code", "detail", "errors"}
        assert AuditEvent.objects.count() == events
        assert Override.objects.get().pk == world.override.pk and Override.objects.get().ended_at is None
    if r.status_code == 400:
        assert set(body["errors"]) == {"customer"}
        missing = client.post(f"{API}/segment-overrides/", {"customer": 987654321, "value_tier": "important",
                                                              "reason": "x", "expires_on": "2026-12-31"}, format="json")
        assert missing.json() == {**body, "errors": {"customer": missing.json()["errors"]["customer"]}}
    if r.status_code == 404:
        missing = client.post(f"{API}/segment-overrides/987654321/end/", format="json")
        assert body == missing.json()


# --- pages ---

@pytest.fixture
def page_client(world, key_client):
    def make(who):
        if who == "api_key_header":
            key = key_client().api_key
            return Client(HTTP_AUTHORIZATION=f"Api-Key {key.raw_key}")
        client = Client()
        if who != "anonymous":
            client.force_login(getattr(world, who))
        return client
    return make


CONFIRMED = {"value_tier": "important", "card_tier": "", "reason": "战略客户", "expires_on": "2026-12-31",
             "confirm": "1"}

PAGES = {
    # name: (method, url(world), data, status when allowed, object-scoped?, who may)
    "overdue": ("get", lambda w: "/segments/overdue/", None, 200, False, "watch"),
    "downgrade_watch": ("get", lambda w: "/segments/downgrade-watch/", None, 200, False, "watch"),
    "override_form": ("get", lambda w: f"/segments/customers/{w.c_rm.pk}/override/", None, 200, True, "pin"),
    "override_confirm": ("post", lambda w: f"/segments/customers/{w.c_rm.pk}/override/",
                         {**CONFIRMED, "confirm": ""}, 200, True, "pin"),
    "override_set": ("post", lambda w: f"/segments/customers/{w.c_rm.pk}/override/", CONFIRMED, 302, True, "pin"),
    "override_end_page": ("get", lambda w: f"/segments/overrides/{w.override.pk}/end/", None, 200, True, "pin"),
    "override_end": ("post", lambda w: f"/segments/overrides/{w.override.pk}/end/", {}, 302, True, "pin"),
}


def expected_page_status(world, who, page):
    _method, _url, _data, ok, scoped, need = PAGES[page]
    if who in ("anonymous", "api_key_header"):
        return 302
    if scoped and not sees(world, who):
        return 404
    if need == "watch" and who == "co_b1":
        return 403
    if need == "pin" and who not in PINS:
        return 403
    return ok


@pytest.mark.parametrize("who", PAGE_PRINCIPALS)
@pytest.mark.parametrize("page", list(PAGES))
def test_page_access(world, page_client, page, who):
    method, url, data, _ok, _scoped, _need = PAGES[page]
    client = page_client(who)
    target = url(world)
    events = AuditEvent.objects.count()  # after the client (an API key's creation is audited)
    response = getattr(client, method)(target, data or {})
    expected = expected_page_status(world, who, page)
    assert response.status_code == expected, (response.status_code, response.content[:500])
    if expected == 302 and who in ("anonymous", "api_key_header"):
        assert response.url.startswith("/login/") and "next=" in response.url
    if expected in (403, 404) or who in ("anonymous", "api_key_header"):
        assert AuditEvent.objects.count() == events  # nothing changed
        assert Override.objects.get().ended_at is None
    if expected == 404:
        for pk in (world.c_rm.pk, world.override.pk):
            target = target.replace(f"/{pk}/", "/987654321/")
        assert getattr(client, method)(target, data or {}).status_code == 404


@pytest.mark.parametrize("who", [s for s in STAFF if s != "co_b1"])
@pytest.mark.parametrize("page", ["overdue", "downgrade_watch"])
def test_lists_show_only_the_scope(world, page_client, page, who):
    if page == "downgrade_watch":  # everyone below their card tier, nobody pinned
        Assignment.objects.update(months_below=1, overridden=False)
    response = page_client(who).get(PAGES[page][1](world))
    assert response.status_code == 200
    shown = {row.customer_id for row in response.context["page"].object_list}
    assert shown == visible(world, who)
    html = response.content.decode()
    for customer in world.customers.values():
        if customer.pk not in visible(world, who):
            assert customer.cif not in html


@pytest.mark.parametrize("who", ["sup_b1", "ho_user"])
def test_an_rm_filter_cannot_widen_the_scope(world, page_client, who):
    response = page_client(who).get(f"/segments/overdue/?rm={world.rm_b2.pk}")
    if who == "sup_b1":  # another branch's RM: not in the supervisor's scope
        assert response.status_code == 404
        return
    assert {row.customer_id for row in response.context["page"].object_list} <= visible(world, who)


@pytest.mark.parametrize("who", STAFF)
def test_the_customer_page_panel_follows_the_permissions(world, page_client, who):
    response = page_client(who).get(f"/customers/{world.c_rm.pk}/")
    if not sees(world, who):
        assert response.status_code == 404
        return
    html = response.content.decode()
    assert 'data-testid="tier-panel"' in html
    assert ('data-testid="override-end-link"' in html) == (who in PINS)


@pytest.mark.parametrize("path", ["/segments/overdue/", "/segments/downgrade-watch/"])
def test_an_rm_outside_the_viewers_scope_is_a_404_not_everyone(path, client):
    from tests.org.builders import build_org

    org = build_org()
    client.force_login(org.sup_b1)
    assert client.get(path, {"rm": org.rm.pk}).status_code == 200  # an RM of the supervisor's branch
    for other in (org.rm_b2.pk, org.sup_b2.pk, 999_999, "x"):  # another branch's RM, not an RM, nobody, garbage
        assert client.get(path, {"rm": other}).status_code == 404, other
    client.force_login(org.rm)
    assert client.get(path, {"rm": org.rm.pk}).status_code == 200  # an RM: their own book
    assert client.get(path, {"rm": org.other_rm.pk}).status_code == 404
