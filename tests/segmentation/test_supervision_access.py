"""Access matrix of the supervision pages: anonymous (and an API key on a page) → 302 to /login/; staff without
``segmentation.view_supervision`` (RMs, complaint officers) → 404; supervisors see their branch subtree's figures
only, head office everything."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from segmentation.constants import RunStatus

from .builders import RunFactory
from .supervision_builders import build_supervision_world

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
STAFF = ["rm", "other_rm", "sup_b1", "sup_b2", "ho_user", "co_b1"]
PRINCIPALS = [*STAFF, "anonymous", "api_key_header"]
ALLOWED = {"sup_b1", "sup_b2", "ho_user"}


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db):
    """The supervision world (tests/segmentation/supervision_builders.py) instead of the plain customer book."""
    return build_supervision_world()


@pytest.fixture
def page_client(world, key_client):
    def make(who):
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        if who == "api_key_header":
            # an API key is for /api/ only: pages treat it as not signed in
            key = key_client().api_key
            return Client(HTTP_AUTHORIZATION=f"Api-Key {key.raw_key}")
        if who != "anonymous":
            client.force_login(getattr(world, who))
        return client

    return make


def _movers(w, from_tier="secondary", to_tier="important"):
    return (f"/segments/supervision/migration/movers/?from={w.previous.pk}&to={w.current.pk}"
            f"&from_tier={from_tier}&to_tier={to_tier}")


PAGES = {
    # name: url(world)
    "overview": lambda w: "/segments/supervision/",
    "overview_of_a_run": lambda w: f"/segments/supervision/?run={w.previous.pk}",
    "migration": lambda w: "/segments/supervision/migration/",
    "migration_chosen": lambda w: f"/segments/supervision/migration/?from={w.current.pk}&to={w.previous.pk}"
                                  f"&dimension=card",
    "movers": _movers,
}


def expected_status(who):
    if who in ("anonymous", "api_key_header"):
        return 302
    return 200 if who in ALLOWED else 404


@pytest.mark.parametrize("who", PRINCIPALS)
@pytest.mark.parametrize("page", list(PAGES))
def test_page_access(world, page_client, page, who):
    response = page_client(who).get(PAGES[page](world))
    expected = expected_status(who)
    assert response.status_code == expected, (response.status_code, response.content[:500])
    if expected == 302:
        assert response.url.startswith("/login/")
        assert "next=" in response.url


def test_a_deactivated_supervisor_sees_nothing(world, page_client):
    client = page_client("sup_b1")
    world.sup_b1.is_active = False
    world.sup_b1.save(update_fields=["is_active"])
    response = client.get("/segments/supervision/")
    assert response.status_code == 302 and response.url.startswith("/login/")


SUBTREE = {
    # who: (customers in the current run, in the matrix previous → current, RMs in the compliance table)
    "sup_b1": (7, 8, {"王经理", "李经理"}),
    "sup_b2": (4, 4, {"陈经理", "No RM"}),
    "ho_user": (11, 12, {"王经理", "李经理", "陈经理", "No RM"}),
}


@pytest.mark.parametrize("who", sorted(ALLOWED))
def test_figures_are_the_subtree_s(world, page_client, who):
    customers, moved, rms = SUBTREE[who]
    client = page_client(who)
    overview = client.get("/segments/supervision/")
    assert overview.context["pyramid"].total.customers == customers
    assert {r.name for r in overview.context["compliance"].rows} == rms
    matrix = client.get("/segments/supervision/migration/").context["matrix"]
    assert matrix.total == moved


@pytest.mark.parametrize("who", sorted(ALLOWED))
def test_no_name_from_outside_the_subtree(world, page_client, who):
    client = page_client(who)
    in_b1 = {"c_rm", "c_rm_outlet", "c_other", "x1", "x2", "x4", "x6", "x7"}
    visible = {"sup_b1": in_b1, "sup_b2": set(world.people) - in_b1, "ho_user": set(world.people)}[who]
    pages = [client.get(_movers(world, a, b)).content.decode() for a, b in (
        ("secondary", "important"), ("important", "secondary"), ("small", "small"), ("small", "absent"),
        ("absent", "ordinary"), ("ordinary", "ordinary"), ("small", "unclassified"), ("unclassified", "small"), ("ordinary", "small"))]
    html = "".join(pages)
    for name, customer in world.people.items():
        assert (customer.name in html) == (name in visible), name
    overview = client.get("/segments/supervision/").content.decode()
    if who == "sup_b2":
        assert "王经理" not in overview and "福州分行" not in overview


@pytest.mark.parametrize("who", sorted(ALLOWED))
def test_chosen_runs_must_be_completed_runs(world, page_client, who):
    client = page_client(who)
    failed = RunFactory(as_of=dt.date(2026, 8, 1), status=RunStatus.FAILED)
    for url in (f"/segments/supervision/?run={failed.pk}", "/segments/supervision/?run=987654321",
                "/segments/supervision/?run=x", f"/segments/supervision/migration/?from={failed.pk}",
                "/segments/supervision/migration/?to=987654321",
                f"/segments/supervision/migration/movers/?from={failed.pk}&from_tier=small&to_tier=small",
                _movers(world, "bogus", "small"), _movers(world, "small", "")):
        assert client.get(url).status_code == 404, url


@pytest.mark.parametrize("who", STAFF)
def test_nav_link_only_for_supervision(world, page_client, who):
    html = page_client(who).get("/customers/").content.decode()
    assert ('href="/segments/supervision/"' in html) == (who in ALLOWED)
