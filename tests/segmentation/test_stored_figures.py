"""The supervisor view's stored figures (``Figures``, ``BranchScores``, written when a run finishes; compliance
counted by ``services.compliance_refresh``) give exactly what the run's rows give when counted live, in every
scope; the page reads a handful of small rows whatever the size of the run."""

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import translation

from segmentation import engine, selectors, services
from segmentation.constants import ValueTier
from segmentation.models import BranchScores, Figures, Run
from tests.customers.builders import CustomerFactory

from .builders import assign
from .supervision_builders import TODAY, TZ, build_supervision_world

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 22, 14, 5, tzinfo=TZ)
USERS = ["ho_user", "sup_b1", "sup_b2", "co_b1"]


@pytest.fixture
def sw(db):
    with translation.override("en"):
        yield build_supervision_world()


def figures(sw, run, today=TODAY):
    """Every figure of the supervision page, per user (compliance without its time of counting)."""
    run = Run.objects.select_related("policy").get(pk=run.pk)
    result = {}
    with translation.override("en"):
        for who in USERS:
            s = selectors.supervision(getattr(sw, who), run, today)
            result[who] = (s.pyramid, s.pareto, s.branches, s.compliance.rows, s.compliance.total)
    return result


def store(run):
    engine.store_figures(run.pk)
    Run.objects.filter(pk=run.pk).update(figures_ready=True)


def grow(sw, n):
    """``n`` more scored customers in B2 and B1A, with equal scores across the Pareto buckets' edges."""
    for i in range(n):
        customer = CustomerFactory(branch=sw.b2 if i % 3 else sw.b1a, rm=sw.rm_b2 if i % 3 else sw.rm)
        assign(sw.current, customer, value_tier=ValueTier.SMALL, score=Decimal(i // 4) + Decimal("0.37"),
               aum_avg=Decimal(i) * 1000, branch_id=customer.branch_id, rm_id=customer.rm_id)


@pytest.mark.parametrize("extra", [0, 257])
def test_stored_figures_equal_the_live_ones_in_every_scope(sw, extra):
    grow(sw, extra)
    live = figures(sw, sw.current)
    store(sw.current)
    assert Figures.objects.filter(run=sw.current).exists() and BranchScores.objects.filter(run=sw.current).exists()
    assert figures(sw, sw.current) == live
    assert live["ho_user"][0].total.customers == 11 + extra and len(live["ho_user"][1].points) == (11 if not extra
                                                                                                  else 101)


def test_stored_figures_are_the_run_rows_summed(sw):
    store(sw.current)
    rows = Figures.objects.filter(run=sw.current)
    assert sum(f.customers for f in rows) == 11
    assert sum(f.contribution for f in rows) == Decimal(1000)
    b1 = {(f.rm_id, f.value_tier): f.customers for f in rows.filter(branch=sw.b1)}
    assert b1 == {(sw.rm.pk, ValueTier.IMPORTANT): 1, (sw.rm.pk, ValueTier.ORDINARY): 1,
                  (sw.other_rm.pk, ValueTier.SECONDARY): 1, (sw.other_rm.pk, ValueTier.SMALL): 2}
    scores = {s.branch_id: engine.branch_scores(s.scores).tolist() for s in BranchScores.objects.filter(run=sw.current)}
    assert scores == {sw.b1.pk: [50000, 30000, 5000, 2000, 500], sw.b1a.pk: [1000, 500], sw.b2.pk: [10000, 1000, 0]}
    store(sw.current)  # again: replaced, not added
    assert sum(f.customers for f in Figures.objects.filter(run=sw.current)) == 11


def test_compliance_counted_for_today_is_read_from_the_store(sw):
    store(sw.current)
    live = figures(sw, sw.current)
    assert services.compliance_refresh(today=TODAY, now=NOW) == sw.current.pk
    run = Run.objects.select_related("policy").get(pk=sw.current.pk)
    assert (run.compliance_on, run.compliance_at) == (TODAY, NOW)
    assert figures(sw, sw.current) == live
    stored = selectors.compliance(sw.ho_user, run, TODAY)
    assert stored.checked_at == NOW and (stored.total.customers, stored.total.contacted) == (10, 5)
    # another day: counted live (the store holds the counts of TODAY only)
    tomorrow = selectors.compliance(sw.ho_user, run, TODAY + dt.timedelta(days=1))
    assert tomorrow.checked_at is None
    assert next(r for r in tomorrow.rows if r.rm_id == sw.rm.pk).contacted == 1


def test_compliance_refresh_without_stored_figures_does_nothing(sw):
    assert services.compliance_refresh(today=TODAY, now=NOW) is None
    assert Run.objects.get(pk=sw.current.pk).compliance_on is None


def test_a_new_interaction_counts_at_the_next_refresh(sw):
    from tests.customers.builders import InteractionFactory

    store(sw.current)
    services.compliance_refresh(today=TODAY, now=NOW)
    run = Run.objects.select_related("policy").get(pk=sw.current.pk)
    before = selectors.compliance(sw.ho_user, run, TODAY).total.contacted
    InteractionFactory(customer=sw.people["x1"], occurred_at=NOW)
    assert selectors.compliance(sw.ho_user, run, TODAY).total.contacted == before  # the stored count
    services.compliance_refresh(today=TODAY, now=NOW + dt.timedelta(minutes=15))
    run.refresh_from_db()
    assert selectors.compliance(sw.ho_user, run, TODAY).total.contacted == before + 1


@pytest.mark.parametrize("who", ["sup_b1", "ho_user"])
def test_overview_page_from_the_store_reads_a_fixed_number_of_small_queries(sw, who, django_assert_max_num_queries):
    grow(sw, 60)
    store(sw.current)
    services.compliance_refresh(today=dt.date.today(), now=NOW)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(getattr(sw, who))
    with django_assert_max_num_queries(13):
        response = client.get(f"/segments/supervision/?run={sw.current.pk}")
    assert response.status_code == 200
    assert 'data-testid="compliance-checked"' in response.content.decode()
    assert "Counted at" in response.content.decode()
