"""Issue 11, items 5 and 6: where the tier matters for RMs and supervisors — the tier panel on the customer page,
tier filters on the customer list and API, the overdue-contacts list and the downgrade watch (figures and query
counts), tier changes in the customer's history."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import translation

from customers.models import Interaction
from segmentation import selectors, services
from segmentation.constants import CardTier, ValueTier
from tests.customers.builders import CustomerFactory, InteractionFactory

from .builders import assign, build_segmented_world

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _last_contact(customer, days_ago):
    Interaction.objects.filter(customer=customer).delete()
    if days_ago is not None:
        InteractionFactory(customer=customer, occurred_at=NOW - dt.timedelta(days=days_ago))


@pytest.fixture
def w(db):
    """The segmented world with last contacts: c_rm (important, 30 days) 40 days ago → 10 days overdue;
    c_rm_outlet (small, 182 days) never → overdue; c_other (secondary) 10 days ago → not overdue;
    c_b2 (ordinary, 91 days) 100 days ago → 9 days overdue."""
    world = build_segmented_world()
    c = world.customers
    _last_contact(c["c_rm"], 40)
    _last_contact(c["c_rm_outlet"], None)
    _last_contact(c["c_other"], 10)
    _last_contact(c["c_b2"], 100)
    return world


def client(user):
    c = Client(HTTP_ACCEPT_LANGUAGE="en")
    c.force_login(user)
    return c


def detail(customer):
    return reverse("customers:detail", args=[customer.pk])


# --- the tier panel on the customer page ---

def test_panel_shows_tiers_reasons_and_next_contact(w):
    html = client(w.rm).get(detail(w.c_rm)).content.decode()
    assert 'data-testid="tier-panel"' in html
    assert 'data-testid="tier-value">Important customer' in html
    assert 'data-testid="tier-card">Black gold' in html
    assert 'data-testid="tier-lifecycle">Development' in html
    assert 'data-testid="tier-exit">No' in html
    assert "Top 0.8 % by contribution in 福州分行 (Important customer)" in html
    assert "AUM 900,000 &lt; 1,000,000: Black gold kept, 1 of 3 runs below before a downgrade" in html
    assert "2026-11-12 · overdue" in html  # last contact 2026-10-13 + 30 days
    assert "Last contact 2026-10-13; every 30 days for this tier." in html
    assert "override-set-link" not in html  # an RM does not pin tiers


def test_panel_in_chinese_for_a_chinese_reader(w):
    c = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    c.force_login(w.rm)
    html = c.get(detail(w.c_rm)).content.decode()
    assert 'data-testid="tier-panel"' in html
    assert "重要客户" in html  # the tier label from the catalogue


def test_panel_exit_review_and_potential(w):
    html = client(w.rm_b2).get(detail(w.customers["c_b2"])).content.decode()
    assert "Flagged for relationship exit review" in html
    assert "Exit review: no transaction for 14 months." in html
    html = client(w.rm).get(detail(w.customers["c_rm_outlet"])).content.decode()
    assert 'data-testid="tier-potential">With potential: cultivate' in html
    assert "Never contacted; every 182 days for this tier." in html


def test_panel_says_not_yet_classified_without_a_row(w):
    newcomer = CustomerFactory(rm=w.rm, branch=w.b1, name="新客户")
    html = client(w.rm).get(detail(newcomer)).content.decode()
    assert 'data-testid="tier-unclassified"' in html


def test_panel_for_a_supervisor_offers_the_override(w):
    html = client(w.sup_b1).get(detail(w.c_rm)).content.decode()
    assert reverse("segmentation:override-set", args=[w.c_rm.pk]) in html


def test_panel_escapes_the_override_reason(w):
    services.override_set(actor=w.sup_b1, customer=w.c_rm, value_tier=ValueTier.SECONDARY, card_tier="",
                          reason="<script>alert(1)</script>", expires_on=TODAY + dt.timedelta(days=30), today=TODAY)
    html = client(w.sup_b1).get(detail(w.c_rm)).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert 'data-testid="tier-value">Secondary customer <span class="badge text-bg-warning">pinned' in html
    assert reverse("segmentation:override-end", args=[w.c_rm.tier_overrides.get().pk]) in html


def test_panel_costs_a_fixed_number_of_queries(w, django_assert_max_num_queries):
    rm = client(w.rm)
    rm.get(detail(w.c_rm))
    with translation.override("en"):
        tiers_queries = 2  # the row (run, policy, last contact), the override
        with django_assert_max_num_queries(tiers_queries):
            selectors.customer_tiers(w.rm, w.c_rm, today=TODAY)


# --- tier changes in the customer's history ---

def test_run_changes_and_overrides_appear_in_the_profile_history(w):
    row = w.assignments["c_rm"]
    row.previous_value_tier, row.previous_card_tier = ValueTier.SECONDARY, CardTier.PLATINUM
    row.save()
    services.override_set(actor=w.sup_b1, customer=w.c_rm, value_tier="", card_tier=CardTier.PRIVATE,
                          reason="大额存款即将到账", expires_on=TODAY + dt.timedelta(days=60), today=TODAY)
    html = client(w.rm).get(detail(w.c_rm)).content.decode()
    history = html[html.index('data-testid="history"'):]
    assert "Segmentation run" in history and "Run of 2026-11 (policy v" in history
    assert "value tier: Secondary customer → Important customer" in history
    assert "card tier: Platinum → Black gold" in history
    assert "Tier override set" in history
    assert "card tier: Black gold → Private banking" in history
    assert "大额存款即将到账" in history


# --- filters on the customer list and the API ---

@pytest.mark.parametrize(("query", "expected"), [
    ("value_tier=important", {"c_rm"}),
    ("card_tier=platinum", {"c_other"}),
    ("potential=true", {"c_rm_outlet"}),
    ("lifecycle=development", {"c_rm", "c_rm_outlet", "c_other", "c_b2"}),
    ("exit_review=true", {"c_b2"}),
    ("exit_review=false", {"c_rm", "c_rm_outlet", "c_other"}),
    ("value_tier=ordinary&exit_review=true", {"c_b2"}),
])
def test_tier_filters_on_the_list_page_and_the_api(w, client_for, query, expected):
    ids = {w.customers[k].pk for k in expected}
    page = client(w.ho_user).get(f"/customers/?{query}")
    assert page.status_code == 200
    assert {c.pk for c in page.context["page"].object_list} == ids
    api = client_for(w.ho_user).get(f"/api/v1/customers/?{query}")
    assert api.status_code == 200
    assert {r["id"] for r in api.json()["results"]} == ids


def test_list_page_shows_the_tier_filters(w):
    html = client(w.rm).get("/customers/?value_tier=secondary").content.decode()
    for name in ("value_tier", "card_tier", "potential", "lifecycle", "exit_review"):
        assert f'name="{name}"' in html
    assert '<option value="secondary" selected>' in html


def test_a_wrong_tier_is_a_field_error_in_the_api(w, client_for):
    r = client_for(w.ho_user).get("/api/v1/customers/?value_tier=gold")
    assert r.status_code == 400
    assert set(r.json()["errors"]) == {"value_tier"}


def test_tier_filters_do_not_add_queries(w, client_for, django_assert_num_queries):
    api = client_for(w.ho_user)
    api.get("/api/v1/customers/?kind=individual")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as plain:
        api.get("/api/v1/customers/?kind=individual")
    with django_assert_num_queries(len(plain.captured_queries)):
        r = api.get("/api/v1/customers/?kind=individual&value_tier=important&card_tier=black_gold&exit_review=false")
    assert len(r.json()["results"]) == 1


def test_tier_filters_see_only_the_run_in_force(w, client_for):
    from .builders import RunFactory

    old = RunFactory(as_of=dt.date(2026, 10, 1), is_current=False)
    assign(old, w.customers["c_other"], value_tier=ValueTier.IMPORTANT)
    r = client_for(w.ho_user).get("/api/v1/customers/?value_tier=important")
    assert {row["id"] for row in r.json()["results"]} == {w.c_rm.pk}


# --- overdue contacts ---

def test_overdue_list_for_the_rm_most_overdue_first(w):
    r = client(w.rm).get(reverse("segmentation:overdue"))
    assert r.status_code == 200
    rows = r.context["page"].object_list
    assert [row.cif for row in rows] == [w.customers["c_rm_outlet"].cif, w.c_rm.cif]  # never, then 10 days
    never, late = rows
    assert never.last_contact is None and never.due == TODAY and never.days_overdue is None
    assert late.last_contact == TODAY - dt.timedelta(days=40)
    assert late.due == TODAY - dt.timedelta(days=10) and late.days_overdue == 10 and late.contact_days == 30
    assert "overdue-per-rm" not in r.content.decode()  # an RM sees their own book only


def test_overdue_is_strictly_after_the_interval(w):
    _last_contact(w.c_rm, 30)  # due today: not yet overdue
    rows = selectors.overdue_contacts(w.rm, today=TODAY).object_list
    assert [r.cif for r in rows] == [w.customers["c_rm_outlet"].cif]
    _last_contact(w.c_rm, 31)
    rows = selectors.overdue_contacts(w.rm, today=TODAY).object_list
    assert w.c_rm.cif in [r.cif for r in rows]


def test_overdue_for_head_office_every_branch_per_rm(w):
    r = client(w.ho_user).get(reverse("segmentation:overdue"))
    cifs = [row.cif for row in r.context["page"].object_list]
    assert cifs == [w.customers["c_rm_outlet"].cif, w.c_rm.cif, w.customers["c_b2"].cif]
    per_rm = {x.rm_id: x.count for x in r.context["per_rm"]}
    assert per_rm == {w.rm.pk: 2, w.rm_b2.pk: 1}


def test_overdue_rm_filter_for_a_supervisor(w):
    r = client(w.sup_b1).get(reverse("segmentation:overdue") + f"?rm={w.rm.pk}")
    assert {row.cif for row in r.context["page"].object_list} == {w.c_rm.cif, w.customers["c_rm_outlet"].cif}
    r = client(w.sup_b1).get(reverse("segmentation:overdue") + f"?rm={w.other_rm.pk}")
    assert list(r.context["page"].object_list) == []
    # an RM outside the supervisor's subtree is not a choice: a 404, no hint that they exist
    assert client(w.sup_b1).get(reverse("segmentation:overdue") + f"?rm={w.rm_b2.pk}").status_code == 404


def test_overdue_queries_do_not_grow_with_the_rows(w, django_assert_num_queries):
    def count():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            list(selectors.overdue_contacts(w.ho_user, today=TODAY).object_list)
        return len(ctx.captured_queries)

    few = count()
    for _ in range(5):
        c = CustomerFactory(rm=w.rm, branch=w.b1)
        assign(w.run, c, value_tier=ValueTier.SMALL)
    with django_assert_num_queries(few):
        page = selectors.overdue_contacts(w.ho_user, today=TODAY)
        assert len(page.object_list) == 8


# --- downgrade watch ---

def test_downgrade_watch_figures(w):
    r = client(w.rm).get(reverse("segmentation:downgrade-watch"))
    assert r.status_code == 200
    (row,) = r.context["page"].object_list
    assert row.cif == w.c_rm.cif and row.card_label == "Black gold"
    assert row.months_below == 1 and row.needed == 3 and row.runs_left == 2
    assert row.aum == Decimal("900000.00") and row.aum_needed == Decimal(1000000)
    assert row.gap == Decimal("100000.00")
    html = r.content.decode()
    assert "100,000.00" in html and "1,000,000.00" in html


def test_downgrade_watch_private_banking_waits_longer_and_overrides_are_left_out(w):
    b2 = w.assignments["c_b2"]
    b2.months_below, b2.aum_avg, b2.card_tier_computed = 4, Decimal("8000000.00"), CardTier.BLACK_GOLD
    b2.save()
    rows = selectors.downgrade_watch(w.ho_user).object_list
    assert [r.cif for r in rows] == [w.customers["c_b2"].cif, w.c_rm.cif]  # 2 runs left, bigger gap first
    private = rows[0]
    assert private.needed == 6 and private.runs_left == 2 and private.gap == Decimal("2000000.00")
    assert private.computed_label == "Black gold"
    services.override_set(actor=w.ho_user, customer=w.c_rm, value_tier="", card_tier=CardTier.BLACK_GOLD,
                          reason="客户经理申请保级", expires_on=TODAY + dt.timedelta(days=90), today=TODAY)
    assert [r.cif for r in selectors.downgrade_watch(w.ho_user).object_list] == [w.customers["c_b2"].cif]


def test_downgrade_watch_queries_do_not_grow_with_the_rows(w, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        list(selectors.downgrade_watch(w.ho_user).object_list)
    for _ in range(5):
        c = CustomerFactory(rm=w.rm, branch=w.b1)
        assign(w.run, c, card_tier=CardTier.GOLD, months_below=2, aum_avg=Decimal(50000))
    with django_assert_num_queries(len(ctx.captured_queries)):
        assert len(selectors.downgrade_watch(w.ho_user).object_list) == 6


def test_lists_without_a_run_are_empty(db):
    from tests.customers.builders import build_world

    world = build_world()
    for name in ("segmentation:overdue", "segmentation:downgrade-watch"):
        r = client(world.sup_b1).get(reverse(name))
        assert r.status_code == 200 and list(r.context["page"].object_list) == []
    html = client(world.rm).get(detail(world.c_rm)).content.decode()
    assert 'data-testid="tier-unclassified"' in html


# --- the assignments API ---

@pytest.fixture
def seg_key(key_client):
    from org.constants import Scope

    return key_client(scopes=[Scope.SEGMENTS_READ])


@pytest.mark.parametrize(("query", "expected"), [
    ("", {"c_rm", "c_rm_outlet", "c_other", "c_b2"}),
    ("value_tier=secondary", {"c_other"}),
    ("card_tier=private", {"c_b2"}),
    ("potential=true", {"c_rm_outlet"}),
    ("exit_review=true", {"c_b2"}),
    ("lifecycle=growth", set()),
    ("branch={b1}", {"c_rm", "c_rm_outlet", "c_other"}),  # with its outlet
    ("rm={rm}", {"c_rm", "c_rm_outlet"}),
    ("cif={cif}", {"c_rm"}),
])
def test_assignments_api_filters(w, seg_key, query, expected):
    query = query.format(b1=w.b1.pk, rm=w.rm.pk, cif=w.c_rm.cif)
    r = seg_key.get(f"/api/v1/segment-assignments/?{query}")
    assert r.status_code == 200, r.content
    assert {row["customer"] for row in r.json()["results"]} == {w.customers[k].pk for k in expected}


def test_assignments_api_row(w, seg_key):
    r = seg_key.get(f"/api/v1/segment-assignments/?cif={w.c_rm.cif}")
    (row,) = r.json()["results"]
    assert row["as_of"] == "2026-11-01" and row["run"] == w.run.pk and row["cif"] == w.c_rm.cif
    assert (row["value_tier"], row["card_tier"], row["months_below"]) == ("important", "black_gold", 1)
    assert row["aum_avg"] == "900000.00" and row["overridden"] is False


def test_assignments_api_history(w, seg_key):
    from .builders import RunFactory

    old = RunFactory(as_of=dt.date(2026, 10, 1), is_current=False)
    assign(old, w.c_rm, value_tier=ValueTier.SECONDARY)
    RunFactory(as_of=dt.date(2026, 12, 1), status="failed", finished_at=None)  # never in anyone's history
    r = seg_key.get(f"/api/v1/segment-assignments/history/?customer={w.c_rm.pk}")
    assert r.status_code == 200
    assert [(x["as_of"], x["value_tier"]) for x in r.json()["results"]] == [
        ("2026-11-01", "important"), ("2026-10-01", "secondary")]
    r = seg_key.get(f"/api/v1/segment-assignments/history/?run={old.pk}")
    assert [x["customer"] for x in r.json()["results"]] == [w.c_rm.pk]
    r = seg_key.get("/api/v1/segment-assignments/history/")
    assert r.status_code == 400 and set(r.json()["errors"]) == {"customer"}


def test_assignments_api_queries_do_not_grow_with_the_page(w, seg_key, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        seg_key.get("/api/v1/segment-assignments/")
    for _ in range(5):
        assign(w.run, CustomerFactory(rm=w.rm, branch=w.b1))
    with django_assert_num_queries(len(ctx.captured_queries)):
        assert len(seg_key.get("/api/v1/segment-assignments/").json()["results"]) == 9


def test_a_pin_the_run_kept_is_not_a_tier_change(w):
    a = w.assignments["c_other"]  # pinned important before the run, the run kept the pin; computed secondary
    a.previous_value_tier, a.value_tier, a.overridden = ValueTier.IMPORTANT, ValueTier.IMPORTANT, True
    a.previous_card_tier = a.card_tier_held
    a.save()
    assert selectors.tier_history(w.customers["c_other"]) == []
