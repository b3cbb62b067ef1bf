"""The supervisor view's figures on a hand-built world (tests/segmentation/supervision_builders.py): the pyramid,
the Pareto curve, the migration matrix and its movers, contact compliance per RM and the branch comparison, per
scope; the pages' query counts do not grow with the customers."""

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import translation

from segmentation import selectors
from segmentation.constants import ValueTier
from tests.customers.builders import CustomerFactory

from .builders import RunFactory, assign
from .supervision_builders import TODAY, build_supervision_world

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]
I, S, O, SM = ValueTier.IMPORTANT, ValueTier.SECONDARY, ValueTier.ORDINARY, ValueTier.SMALL
U, ABSENT = selectors.UNCLASSIFIED, selectors.NOT_IN_RUN


@pytest.fixture
def english():
    """Selector labels in English (pages get Accept-Language: en)."""
    with translation.override("en"):
        yield


@pytest.fixture
def sw(db):
    return build_supervision_world()


def by_tier(p):
    return {t.tier: t for t in p.tiers}


# ---- pyramid ----

def test_pyramid_head_office_counts_money_and_shares(sw):
    p = selectors.pyramid(sw.ho_user, sw.current)
    tiers = by_tier(p)
    assert [t.tier for t in p.tiers] == [I, S, O, SM, U]
    assert {k: t.customers for k, t in tiers.items()} == {I: 1, S: 1, O: 2, SM: 6, U: 1}
    assert {k: t.contribution for k, t in tiers.items()} == {I: Decimal(500), S: Decimal(300), O: Decimal(150),
                                                              SM: Decimal(50), U: Decimal(0)}
    assert p.total.customers == 11 and p.total.contribution == Decimal(1000) and p.total.aum == Decimal(100000)
    assert tiers[I].customer_share == Decimal("9.1") and tiers[I].contribution_share == Decimal("50.0")
    assert tiers[I].aum == Decimal(50000) and tiers[I].aum_share == Decimal("50.0")
    assert tiers[SM].customer_share == Decimal("54.5") and tiers[SM].contribution_share == Decimal("5.0")
    assert tiers[U].customers == 1 and tiers[U].contribution_share == Decimal("0.0")


def test_pyramid_of_a_supervisor_is_their_subtree(sw):
    b1 = selectors.pyramid(sw.sup_b1, sw.current)
    assert {t.tier: t.customers for t in b1.tiers} == {I: 1, S: 1, O: 1, SM: 4, U: 0}
    assert b1.total.contribution == Decimal(890)
    b2 = selectors.pyramid(sw.sup_b2, sw.current)
    assert {t.tier: t.customers for t in b2.tiers} == {I: 0, S: 0, O: 1, SM: 2, U: 1}
    assert by_tier(b2)[O].contribution_share == Decimal("90.9")
    assert selectors.pyramid(sw.co_b1, sw.current).total.customers == 0


def test_pyramid_of_an_older_run(sw):
    p = selectors.pyramid(sw.ho_user, sw.previous)
    assert {t.tier: t.customers for t in p.tiers} == {I: 1, S: 1, O: 2, SM: 6, U: 1}
    assert p.total.customers == 11


# ---- Pareto ----

def test_pareto_top_20_percent_measured(sw):
    p = selectors.pareto(sw.ho_user, sw.current)
    assert p.customers == 10  # x5 has no score
    assert p.top_share == Decimal("80.0")  # 500 + 300 of 1000: the seeds' 20/80, measured
    assert p.points[0] == (Decimal(0), Decimal(0)) and p.points[-1] == (Decimal(100), Decimal(100))
    assert p.points[1] == (Decimal("10.00"), Decimal("50.00")) and p.points[2] == (Decimal("20.00"), Decimal("80.00"))
    assert len(p.points) == 11


def test_pareto_interpolates_between_customers_in_a_small_scope(sw):
    p = selectors.pareto(sw.sup_b1, sw.current)  # 7 customers, 890 in all: 500, 300, 50, 20, 10, 5, 5
    assert p.customers == 7
    assert p.points[1] == (Decimal("14.29"), Decimal("56.18")) and p.points[2] == (Decimal("28.57"), Decimal("89.89"))
    assert p.top_share == Decimal("69.7")


def test_pareto_of_a_large_scope_uses_percentile_buckets(sw):
    extra = [CustomerFactory(branch=sw.b2, rm=sw.rm_b2) for _ in range(240)]
    for i, customer in enumerate(extra):
        assign(sw.current, customer, value_tier=SM, score=Decimal(i + 1))
    p = selectors.pareto(sw.sup_b2, sw.current)  # 243 scored: 1 … 240, 100, 10, 0
    assert p.customers == 243 and len(p.points) == 101
    scores = sorted([*range(1, 241), 100, 10, 0], reverse=True)

    def share_of_top(k):
        return (Decimal(sum(scores[:k])) * 100 / sum(scores)).quantize(Decimal("0.1"))

    # 20 % of 243 is 48.6 customers: the measured share lies between the top 48's and the top 49's
    assert share_of_top(48) <= p.top_share <= share_of_top(49)
    assert (share_of_top(48), share_of_top(49)) == (Decimal("35.8"), Decimal("36.5"))
    assert p.top_share == Decimal("36.2")


def test_pareto_without_positive_contribution_or_scope(sw):
    assert selectors.pareto(sw.co_b1, sw.current) == selectors.Pareto(points=[], customers=0, top_share=None)
    flat = RunFactory(as_of=dt.date(2026, 9, 1))
    assign(flat, sw.c_rm, score=Decimal(0))
    assign(flat, sw.people["x1"], score=Decimal(-5))
    assert selectors.pareto(sw.ho_user, flat) == selectors.Pareto(points=[], customers=2, top_share=None)


# ---- migration matrix and movers ----

def cells(matrix):
    return {(row.key, to): n for row in matrix.rows for to, n in row.cells if n}


def test_migration_matrix_head_office(sw):
    m = selectors.migration_matrix(sw.ho_user, sw.previous, sw.current)
    assert cells(m) == {(S, I): 1, (I, S): 1, (SM, SM): 4, (O, O): 1, (ABSENT, O): 1, (O, SM): 1, (U, SM): 1,
                        (SM, U): 1, (SM, ABSENT): 1}
    assert m.total == 12 and m.up == 1 and m.down == 2 and m.same == 5
    assert [key for key, _label in m.columns] == [I, S, O, SM, U, ABSENT]
    assert [r.total for r in m.rows] == [1, 1, 2, 6, 1, 1]
    assert m.column_totals == [1, 1, 2, 6, 1, 1]


def test_migration_matrix_of_a_supervisor_and_a_customer_who_changed_branch(sw):
    mover = CustomerFactory(branch=sw.b1, rm=sw.other_rm)
    assign(sw.previous, mover, value_tier=SM, branch_id=sw.b2.pk, rm_id=sw.rm_b2.pk)
    assign(sw.current, mover, value_tier=O)
    b1 = selectors.migration_matrix(sw.sup_b1, sw.previous, sw.current)
    assert cells(b1) == {(S, I): 1, (I, S): 1, (SM, SM): 2, (ABSENT, O): 2, (O, SM): 1, (U, SM): 1, (SM, ABSENT): 1}
    b2 = selectors.migration_matrix(sw.sup_b2, sw.previous, sw.current)
    assert cells(b2) == {(O, O): 1, (SM, SM): 2, (SM, U): 1, (SM, ABSENT): 1}
    assert selectors.migration_matrix(sw.co_b1, sw.previous, sw.current).total == 0


def test_migration_matrix_of_card_tiers(sw):
    m = selectors.migration_matrix(sw.ho_user, sw.previous, sw.current, dimension="card")
    assert cells(m) == {("standard", "standard"): 10, ("standard", ABSENT): 1, (ABSENT, "standard"): 1}
    assert m.columns[0][0] == "private"


def test_migration_matrix_of_a_run_with_itself_is_its_diagonal(sw):
    m = selectors.migration_matrix(sw.ho_user, sw.current, sw.current)
    assert cells(m) == {(I, I): 1, (S, S): 1, (O, O): 2, (SM, SM): 6, (U, U): 1}


def names(page):
    return [a.customer.name for a in page.object_list]


def test_movers_of_a_cell(sw):
    p = sw.people
    assert names(selectors.movers(sw.ho_user, sw.previous, sw.current, S, I)) == [p["c_rm"].name]
    assert names(selectors.movers(sw.ho_user, sw.previous, sw.current, ABSENT, O)) == [p["x1"].name]
    left = selectors.movers(sw.ho_user, sw.previous, sw.current, SM, ABSENT)
    assert names(left) == [p["x6"].name] and left.object_list[0].run_id == sw.previous.pk
    assert names(selectors.movers(sw.ho_user, sw.previous, sw.current, U, SM)) == [p["x4"].name]
    assert names(selectors.movers(sw.ho_user, sw.previous, sw.current, SM, U)) == [p["x5"].name]
    same = selectors.movers(sw.ho_user, sw.previous, sw.current, SM, SM)
    # best score first, equal scores by customer
    assert names(same) == [p["x3"].name, p["c_rm_outlet"].name, p["x7"].name, p["x8"].name]
    assert same.paginator.count == 4


def test_movers_are_scoped_and_paginated(sw):
    assert names(selectors.movers(sw.sup_b2, sw.previous, sw.current, S, I)) == []
    assert names(selectors.movers(sw.sup_b1, sw.previous, sw.current, S, I)) == [sw.people["c_rm"].name]
    assert names(selectors.movers(sw.co_b1, sw.previous, sw.current, S, I)) == []
    assert names(selectors.movers(sw.ho_user, sw.previous, sw.current, "bogus", I)) == []
    assert names(selectors.movers(sw.ho_user, sw.previous, sw.current, ABSENT, ABSENT)) == []
    pages = selectors.movers(sw.ho_user, sw.previous, sw.current, SM, SM, per_page=3, page=2)
    assert pages.number == 2 and len(pages.object_list) == 1 and pages.paginator.num_pages == 2


# ---- compliance ----

def rows(c):
    return [(r.name, r.customers, r.contacted, r.overdue, r.share) for r in c.rows]


def test_compliance_per_rm_with_pinned_today(sw):
    c = selectors.compliance(sw.ho_user, sw.current, TODAY)
    assert rows(c) == [
        ("No RM", 1, 0, 1, Decimal("0.0")),
        (str(sw.other_rm), 3, 1, 2, Decimal("33.3")),  # c_other contacted a day too early
        (str(sw.rm), 4, 2, 2, Decimal("50.0")),  # c_rm on the first day of the interval; c_rm_outlet after today
        (str(sw.rm_b2), 2, 2, 0, Decimal("100.0")),  # x5 unclassified: no interval
    ]
    assert (c.total.customers, c.total.contacted, c.total.overdue, c.total.share) == (10, 5, 5, Decimal("50.0"))
    assert c.contact_days[0] == ("Important customer", 30) and c.contact_days[3] == ("Small customer", 182)


def test_compliance_moves_with_today(sw):
    later = selectors.compliance(sw.ho_user, sw.current, TODAY + dt.timedelta(days=1))
    # c_rm's interaction is now 31 days old and x4's 183; c_rm_outlet's is on the day
    assert [r for r in rows(later) if r[0] == str(sw.rm)] == [(str(sw.rm), 4, 1, 3, Decimal("25.0"))]
    # at the end of December only the small customers c_rm_outlet and x3 are within their 182 days
    assert selectors.compliance(sw.ho_user, sw.current, dt.date(2026, 12, 30)).total.contacted == 2


def test_compliance_of_a_supervisor(sw):
    c = selectors.compliance(sw.sup_b1, sw.current, TODAY)
    assert [r[0] for r in rows(c)] == [str(sw.other_rm), str(sw.rm)]
    assert selectors.compliance(sw.co_b1, sw.current, TODAY).rows == []


# ---- branch comparison ----

def test_branch_comparison_head_office(sw):
    b = selectors.branch_comparison(sw.ho_user, sw.current)
    assert [(x.code, x.name, x.customers, x.tiers, x.contribution, x.contribution_share) for x in b] == [
        ("B1", "福州分行", 7, [1, 1, 1, 4, 0], Decimal(890), Decimal("89.0")),
        ("B2", "厦门分行", 4, [0, 0, 1, 2, 1], Decimal(110), Decimal("11.0")),
    ]


def test_branch_comparison_of_a_supervisor_is_their_branch_and_outlets(sw):
    b = selectors.branch_comparison(sw.sup_b1, sw.current)
    assert [(x.code, x.name, x.customers, x.contribution) for x in b] == [
        ("B1", "福州分行", 5, Decimal(875)), ("B1A", "五四路支行", 2, Decimal(15))]
    assert [x.code for x in selectors.branch_comparison(sw.sup_b2, sw.current)] == ["B2"]
    assert selectors.branch_comparison(sw.co_b1, sw.current) == []


# ---- pages: figures shown, query counts fixed ----

def grow(sw, n):
    """n more customers in B1 with rows in both runs and an interaction each (none of it may add a query)."""
    for i in range(n):
        customer = CustomerFactory(branch=sw.b1, rm=sw.rm)
        assign(sw.previous, customer, value_tier=SM, score=Decimal(i))
        assign(sw.current, customer, value_tier=O, score=Decimal(i))


@pytest.mark.parametrize("who", ["sup_b1", "ho_user"])
def test_overview_page_queries_are_fixed(sw, who, django_assert_max_num_queries):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(getattr(sw, who))
    # 6 are the base template's and the middleware's (session, user, the nav's branch, the session's save); the
    # page's own: runs, the subtree's branch ids, its root branch, tiers per branch, Pareto buckets, compliance, names
    with django_assert_max_num_queries(13):
        assert client.get("/segments/supervision/").status_code == 200
    grow(sw, 30)
    with django_assert_max_num_queries(13):
        response = client.get(f"/segments/supervision/?run={sw.current.pk}")
    assert response.status_code == 200


@pytest.mark.parametrize("who", ["sup_b1", "ho_user"])
def test_migration_and_movers_pages_queries_are_fixed(sw, who, django_assert_max_num_queries):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(getattr(sw, who))
    grow(sw, 30)
    # session, user, the nav's branch and the session's save (3) are the base template's and the middleware's
    with django_assert_max_num_queries(9):
        assert client.get("/segments/supervision/migration/").status_code == 200
    with django_assert_max_num_queries(10):
        response = client.get(f"/segments/supervision/migration/movers/?from={sw.previous.pk}&to={sw.current.pk}"
                              f"&from_tier=small&to_tier=ordinary")
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 30


def test_overview_page_shows_figures_and_chart_data(sw):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(sw.ho_user)
    response = client.get("/segments/supervision/")
    html = response.content.decode()
    assert response.context["run"] == sw.current
    assert "The top 20 % of customers produce 80.0 % of the contribution" in html
    assert 'id="seg-data"' in html and "segmentation.js" in html and "<script>" not in html
    charts = response.context["charts"]
    assert charts["pyramid"]["tiers"][0] == "Important customer"
    assert charts["pyramid"]["series"][2]["data"][0] == 50.0
    assert charts["pareto"]["top"] == [20, 80.0]
    assert charts["branches"]["names"] == ["福州分行", "厦门分行"]
    assert 'data-testid="branch-table"' in html and 'data-testid="compliance-table"' in html
    assert "100,000.00" in html  # money grouped for people


def test_overview_page_of_an_older_run(sw):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(sw.sup_b1)
    response = client.get(f"/segments/supervision/?run={sw.previous.pk}")
    assert response.status_code == 200
    assert response.context["pyramid"].total.customers == 7


def test_migration_page_defaults_to_the_run_in_force_and_the_one_before(sw):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(sw.ho_user)
    response = client.get("/segments/supervision/migration/")
    assert (response.context["run_from"], response.context["run_to"]) == (sw.previous, sw.current)
    html = response.content.decode()
    link = (f"/segments/supervision/migration/movers/?from={sw.previous.pk}&amp;to={sw.current.pk}"
            f"&amp;dimension=value&amp;from_tier=secondary&amp;to_tier=important")
    assert link in html
    assert "12 customers: 1 moved up, 2 moved down, 5 stayed in their tier." in html


def test_movers_page_lists_the_cell(sw):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(sw.sup_b1)
    response = client.get(f"/segments/supervision/migration/movers/?from={sw.previous.pk}&to={sw.current.pk}"
                          f"&from_tier=secondary&to_tier=important")
    assert response.status_code == 200
    html = response.content.decode()
    assert sw.people["c_rm"].name in html and sw.people["c_other"].name not in html
    assert f"/customers/{sw.people['c_rm'].pk}/" in html


def test_pages_without_a_completed_run(db, org_world):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(org_world.ho_user)
    for url in ("/segments/supervision/", "/segments/supervision/migration/"):
        response = client.get(url)
        assert response.status_code == 200 and 'data-testid="no-run"' in response.content.decode()
    assert client.get("/segments/supervision/migration/movers/?from_tier=small&to_tier=small").status_code == 404


def test_chart_labels_are_translated_on_the_server(sw):
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(sw.ho_user)
    charts = client.get("/segments/supervision/").context["charts"]
    assert charts["pyramid"]["tiers"][:4] == ["重要客户", "次要客户", "普通客户", "小客户"]


def test_one_mover_is_one_customer(sw):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(sw.ho_user)
    html = client.get(f"/segments/supervision/migration/movers/?from={sw.previous.pk}&to={sw.current.pk}"
                      f"&from_tier=secondary&to_tier=important").content.decode()
    assert ": 1 customer." in html
