"""Access matrix of the customer pages: anonymous → 302 to /login/; out of scope → 404 (never 403 for
existence); lists show only the viewer's scope."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from customers.constants import TaskStatus
from customers.models import FollowUpTask, Interaction
from org.models import PiiAccessLog

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
STAFF = ["rm", "other_rm", "sup_b1", "sup_b2", "ho_user", "co_b1"]
PRINCIPALS = [*STAFF, "anonymous", "api_key_header"]


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def page_client(world, key_client):
    def make(who):
        client = Client()
        if who == "api_key_header":
            # an API key is for /api/ only: pages treat it as not signed in
            key = key_client().api_key
            return Client(HTTP_AUTHORIZATION=f"Api-Key {key.raw_key}")
        if who != "anonymous":
            client.force_login(getattr(world, who))
        return client

    return make


def sees(world, who):
    return world.c_rm.pk in world.visible_customer_ids(who)


def _interaction_form():
    return {"channel": "visit", "occurred_at": "2026-11-22T09:00", "outcome": "reached", "notes": "上门拜访"}


PAGES = {
    # name: (method, url(world), data, status when in scope, object-scoped?)
    "list": ("get", lambda w: "/customers/", None, 200, False),
    "detail": ("get", lambda w: f"/customers/{w.c_rm.pk}/", None, 200, True),
    "edit": ("get", lambda w: f"/customers/{w.c_rm.pk}/edit/", None, 200, True),
    "new": ("get", lambda w: "/customers/new/", None, 200, False),
    "reveal_mobile": ("post", lambda w: f"/customers/{w.c_rm.pk}/reveal/mobile/", {"mobile-reason": "customer_request"}, 200,
                      True),
    "interaction_new": ("post", lambda w: f"/customers/{w.c_rm.pk}/interactions/new/", _interaction_form(), 302,
                        True),
    "tasks": ("get", lambda w: "/customers/tasks/", None, 200, False),
    "task_done": ("post", lambda w: f"/customers/tasks/{w.tasks['c_rm'].pk}/done/", {"outcome": "已联系"}, 302, True),
    "task_snooze": ("post", lambda w: f"/customers/tasks/{w.tasks['c_rm'].pk}/snooze/", {"until": "2030-06-01"}, 302,
                    True),
}


def expected_status(world, who, page):
    _method, _url, _data, ok, scoped = PAGES[page]
    if who in ("anonymous", "api_key_header"):
        return 302
    if page == "new" and who == "co_b1":
        return 403  # not allowed to add customers at all: reveals nothing about any record
    if scoped and not sees(world, who):
        return 404
    return ok


@pytest.mark.parametrize("who", PRINCIPALS)
@pytest.mark.parametrize("page", list(PAGES))
def test_page_access(world, page_client, page, who):
    method, url, data, _ok, _scoped = PAGES[page]
    client = page_client(who)
    target = url(world)
    response = getattr(client, method)(target, data or {})
    expected = expected_status(world, who, page)
    assert response.status_code == expected, (response.status_code, response.content[:500])
    if expected == 302 and who in ("anonymous", "api_key_header"):
        assert response.url.startswith("/login/")
        assert "next=" in response.url
    if expected == 404:
        missing = getattr(client, method)(target.replace(str(world.c_rm.pk), "987654321")
                                          if "tasks/" not in target else target.replace(
                                              str(world.tasks["c_rm"].pk), "987654321"), data or {})
        assert missing.status_code == 404


@pytest.mark.parametrize("who", STAFF)
def test_list_page_shows_only_the_scope(world, page_client, who):
    response = page_client(who).get("/customers/")
    assert response.status_code == 200
    shown = {c.pk for c in response.context["page"].object_list}
    assert shown == world.visible_customer_ids(who)
    html = response.content.decode()
    for key, customer in world.customers.items():
        if customer.pk not in world.visible_customer_ids(who):
            assert customer.cif not in html, key
        # full sensitive values never appear in the list
        assert customer.mobile not in html and customer.id_number not in html


@pytest.mark.parametrize("who", STAFF)
def test_list_filters_cannot_widen_the_scope(world, page_client, who):
    client = page_client(who)
    for query in (f"branch={world.b2.pk}", f"rm={world.rm_b2.pk}", f"q={world.customers['c_b2'].cif}"):
        response = client.get(f"/customers/?{query}")
        assert response.status_code == 200
        assert {c.pk for c in response.context["page"].object_list} <= world.visible_customer_ids(who), query


@pytest.mark.parametrize("who", STAFF)
def test_tasks_page_shows_only_own_tasks(world, page_client, who):
    response = page_client(who).get("/customers/tasks/")
    assert response.status_code == 200
    shown = {t.pk for t in response.context["page"].object_list}
    expected = set(FollowUpTask.objects.filter(assignee=getattr(world, who), status=TaskStatus.OPEN)
                   .values_list("pk", flat=True))
    assert shown == expected


@pytest.mark.parametrize("who", ["other_rm", "sup_b2", "co_b1"])
def test_out_of_scope_writes_change_nothing(world, page_client, who):
    assert not sees(world, who)
    client = page_client(who)
    before = Interaction.objects.count()
    client.post(f"/customers/{world.c_rm.pk}/interactions/new/", _interaction_form())
    client.post(f"/customers/{world.c_rm.pk}/edit/", {"name": "改名"})
    client.post(f"/customers/{world.c_rm.pk}/reveal/mobile/", {"mobile-reason": "customer_request"})
    client.post(f"/customers/tasks/{world.tasks['c_rm'].pk}/done/", {"outcome": "x"})
    assert Interaction.objects.count() == before
    world.c_rm.refresh_from_db()
    assert world.c_rm.name == "张伟明"
    assert not PiiAccessLog.objects.exists()
    assert FollowUpTask.objects.get(pk=world.tasks["c_rm"].pk).status == TaskStatus.OPEN


def test_reveal_requires_post(world, page_client):
    assert page_client("rm").get(f"/customers/{world.c_rm.pk}/reveal/mobile/").status_code == 405


def test_reveal_of_unknown_field_is_404(world, page_client):
    assert page_client("rm").post(f"/customers/{world.c_rm.pk}/reveal/name/").status_code == 404
    assert not PiiAccessLog.objects.exists()


@pytest.mark.parametrize("who", ["rm", "sup_b1", "ho_user"])
def test_detail_page_never_shows_full_sensitive_values(world, page_client, who):
    """Masked on the 360 page, including the profile history (which stores old → new)."""
    from customers import services

    old_mobile = world.c_rm.mobile
    services.customer_update(actor=world.rm, customer=world.c_rm, data={"mobile": "13800138000"},
                             today=NOW.date())
    html = page_client(who).get(f"/customers/{world.c_rm.pk}/").content.decode()
    for value in (old_mobile, "13800138000", world.c_rm.id_number):
        assert value not in html
    assert "138****8000" in html
