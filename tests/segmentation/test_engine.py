"""The engine on PostgreSQL: equals the pure rules on the same data, in chunks; idempotent; one run at a time; a
failed run leaves the previous assignments in force; hysteresis across monthly runs; overrides; the report."""

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from django.utils import translation

from core.errors import Conflict
from segmentation import engine, rules, services
from segmentation.constants import CardTier, RankingScope, RunStatus, ValueTier
from segmentation.models import Assignment, BranchScores, Figures, Override, Run
from tests.customers.builders import CustomerFactory, FinancialSnapshotFactory, HoldingFactory
from tests.org.builders import build_org
from tests.segmentation.builders import published_policy

pytestmark = pytest.mark.django_db

NOV, OCT, SEP = dt.date(2026, 11, 1), dt.date(2026, 10, 1), dt.date(2026, 9, 1)
TODAY = dt.date(2026, 12, 5)


def run_now(as_of=NOV, *, chunk_size=7, actor=None, today=TODAY):
    """A whole run in this process: the service, then the steps the Celery tasks take (no worker here)."""
    from django.test.utils import override_settings

    with override_settings(SEGMENTATION_CHUNK_SIZE=chunk_size):
        run, started = services.run_start(actor=actor, as_of=as_of)
        if started:
            chunks = services.run_prepare(run_id=run.pk)
            for index, (lo, hi) in enumerate(chunks):
                engine.run_chunk(run.pk, index, lo, hi, today=today)
    run.refresh_from_db()
    return run


def snapshot(customer, period, *, contribution, aum, **kwargs):
    return FinancialSnapshotFactory(customer=customer, period=period, contribution=Decimal(contribution),
                                    aum_avg=Decimal(aum), aum=Decimal(aum), products_held=kwargs.pop("products", 2),
                                    last_txn_date=kwargs.pop("last_txn", period + dt.timedelta(days=20)), **kwargs)


@pytest.fixture
def book():
    """Two branches: B1 with 23 customers (B1a counts as its own scope), B2 with 6, one B1 customer without a
    snapshot of November; contributions with a tie, a zero and a negative figure."""
    org = build_org()
    rng = np.random.default_rng(7)
    customers = []
    for i in range(23):
        c = CustomerFactory(rm=org.rm if i % 2 else org.other_rm, branch=org.b1)
        contribution = [5000, 5000, 0, -300][i] if i < 4 else int(rng.integers(-1000, 100_000))
        aum = int(rng.integers(0, 2_000_000))
        snapshot(c, NOV, contribution=contribution, aum=aum)
        snapshot(c, OCT, contribution=contribution, aum=aum)
        customers.append(c)
    for _ in range(6):
        c = CustomerFactory(rm=org.rm_b2, branch=org.b2)
        snapshot(c, NOV, contribution=int(rng.integers(0, 50_000)), aum=int(rng.integers(0, 400_000)))
        customers.append(c)
    org.no_snapshot = CustomerFactory(rm=org.rm, branch=org.b1)
    snapshot(org.no_snapshot, OCT, contribution=100, aum=100)
    org.customers = customers
    published_policy()
    return org


def rows_of(run):
    return {a.customer_id: a for a in Assignment.objects.filter(run=run)}


def test_the_engine_equals_the_pure_rules_on_the_same_data(book):
    run = run_now(chunk_size=5)  # 30 customers → 6 chunks, each placed against the whole ranking
    assert run.status == RunStatus.DONE and run.is_current and run.chunks_total == 6
    rows = rows_of(run)
    assert len(rows) == 30 and run.customers_done == 30

    ids = [c.pk for c in book.customers]
    snaps = {c.pk: c.snapshots.get(period=NOV) for c in book.customers}
    contribution = np.array([float(snaps[i].contribution) for i in ids])
    aum = np.array([float(snaps[i].aum_avg) for i in ids])
    scope = np.array([c.branch_id for c in book.customers])
    value = rules.value_tiers(contribution, scope)
    card = rules.card_tiers(aum)
    names_v, names_c = [t.value for t in ValueTier], [t.value for t in CardTier]
    for k, pk in enumerate(ids):
        assert rows[pk].value_tier == names_v[value[k]], pk
        assert rows[pk].card_tier == names_c[card[k]], pk
    assert rows[book.no_snapshot.pk].value_tier == "" and rows[book.no_snapshot.pk].reasons == ["nosnap"]

    # chunking does not change anything: one big chunk gives the same rows (a fresh policy version)
    services.Policy.objects.update(status="retired")
    published_policy()
    again = rows_of(run_now(chunk_size=1000))
    assert {k: (r.value_tier, r.card_tier, r.rank_pct) for k, r in again.items()} == \
           {k: (r.value_tier, r.card_tier, r.rank_pct) for k, r in rows.items()}


def test_a_finished_run_stores_the_supervisor_figures(book):
    run = run_now(chunk_size=5)
    assert run.figures_ready
    rows = list(Assignment.objects.filter(run=run))
    figures = Figures.objects.filter(run=run)
    assert sum(f.customers for f in figures) == len(rows) == 30
    assert sum(f.contribution for f in figures) == sum(r.score for r in rows if r.score is not None)
    per_branch = {}
    for r in rows:
        if r.score is not None:
            per_branch.setdefault(r.branch_id, []).append(int(r.score * 100))
    stored = {s.branch_id: engine.branch_scores(s.scores).tolist() for s in BranchScores.objects.filter(run=run)}
    assert stored == {b: sorted(v, reverse=True) for b, v in per_branch.items()}
    assert not Figures.objects.exclude(run=run).exists()  # the run's own figures only


def test_the_report_shows_cut_offs_ties_and_tiny_scopes_and_branches_without_snapshots(book):
    lonely = CustomerFactory(rm=book.rm, branch=book.b1a)  # B1a: customers but no snapshot at all
    run = run_now()
    report = run.report
    by_scope = {s["scope"]: s for s in report["scopes"]}
    assert by_scope[book.b1.pk]["customers"] == 23 and by_scope[book.b2.pk]["customers"] == 6
    assert by_scope[book.b1.pk]["name"] == "福州分行"
    b1 = by_scope[book.b1.pk]
    assert sum(b1["assigned"]) == 23 and b1["asked"] == [0, 5, 7, 11]  # round(0.23)=0, round(4.6)=5, round(11.5)=12
    assert b1["cut_offs"][1] is not None
    assert {"id": lonely.branch_id, "name": "五四路支行"} in report["branches_without_snapshots"]
    assert report["unclassified"] == 2 and report["classified"] == 29


def test_a_run_for_the_same_month_and_policy_is_not_repeated(book):
    first = run_now()
    again, started = services.run_start(as_of=NOV)
    assert not started and again.pk == first.pk and Run.objects.count() == 1


def test_a_second_trigger_while_one_runs_is_refused(book):
    Run.objects.create(as_of=OCT, policy=services.Policy.objects.get(), trigger="manual")
    with translation.override("en"), pytest.raises(Conflict, match="already running"):
        services.run_start(as_of=NOV)


def test_a_failed_run_leaves_the_previous_assignments_in_force(book, monkeypatch, settings):
    settings.SEGMENTATION_CHUNK_SIZE = 10
    first = run_now(as_of=OCT)
    before = {k: r.value_tier for k, r in rows_of(first).items()}

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    run, _ = services.run_start(as_of=NOV)
    chunks = services.run_prepare(run_id=run.pk)
    engine.run_chunk(run.pk, 0, *chunks[0], today=TODAY)  # the first chunk is written …
    monkeypatch.setattr(engine, "classify", broken)
    with pytest.raises(RuntimeError):
        try:
            engine.run_chunk(run.pk, 1, *chunks[1], today=TODAY)
        except RuntimeError as error:
            engine.fail(run.pk, repr(error))  # … what the task does when a chunk fails
            raise
    run.refresh_from_db()
    first.refresh_from_db()
    assert run.status == RunStatus.FAILED and "disk full" in run.error and not run.is_current
    assert first.is_current and not Assignment.objects.filter(run=run).exists()
    assert {k: r.value_tier for k, r in rows_of(first).items()} == before


def test_a_chunk_delivered_twice_replaces_its_own_rows(book, settings):
    settings.SEGMENTATION_CHUNK_SIZE = 10
    run, _ = services.run_start(as_of=NOV)
    chunks = services.run_prepare(run_id=run.pk)
    engine.run_chunk(run.pk, 0, *chunks[0], today=TODAY)
    engine.run_chunk(run.pk, 0, *chunks[0], today=TODAY)
    run.refresh_from_db()
    lo, hi = chunks[0]
    assert Assignment.objects.filter(run=run, customer_id__gte=lo, customer_id__lt=hi).count() == \
        run.customers_done
    assert run.chunks_finished == [0] and run.status == RunStatus.RUNNING


def test_hysteresis_over_monthly_runs_and_an_override(book):
    c = book.customers[5]
    months = [dt.date(2026, m, 1) for m in (6, 7, 8, 9, 10, 11)]
    c.snapshots.all().delete()
    for month, aum in zip(months, [350_000, 290_000, 310_000, 290_000, 290_000, 290_000], strict=True):
        snapshot(c, month, contribution=1000, aum=aum)
    tiers = []
    for month in months:
        services.Policy.objects.update(status="retired")
        published_policy()  # a new version each month keeps the runs apart (other customers lack older months)
        run = run_now(as_of=month)
        row = Assignment.objects.get(run=run, customer=c)
        tiers.append((row.card_tier, row.months_below))
    assert tiers == [("platinum", 0), ("platinum", 1), ("platinum", 0), ("platinum", 1), ("platinum", 2),
                     ("gold", 0)]

    Override.objects.create(customer=c, card_tier=CardTier.PRIVATE, reason="VIP family", created_by=book.sup_b1,
                            expires_on=TODAY + dt.timedelta(days=30))
    services.Policy.objects.update(status="retired")
    published_policy()
    row = Assignment.objects.get(run=run_now(as_of=NOV), customer=c)
    assert (row.card_tier, row.card_tier_held, row.overridden) == ("private", "gold", True)
    assert "override" in row.reasons


def test_exit_review_potential_and_lifecycle(book):
    org = book
    dormant = CustomerFactory(rm=org.rm, branch=org.b1)
    snapshot(dormant, NOV, contribution=10, aum=500, last_txn=dt.date(2025, 6, 1))
    npl = CustomerFactory(rm=org.rm, branch=org.b1)
    snapshot(npl, NOV, contribution=10, aum=500)
    HoldingFactory(customer=npl, product_type="loan", status="npl")
    growing = CustomerFactory(rm=org.rm, branch=org.b1, birth_date=dt.date(1990, 1, 1))
    snapshot(growing, SEP, contribution=100, aum=10_000)
    snapshot(growing, OCT, contribution=120, aum=12_000)
    snapshot(growing, NOV, contribution=200, aum=20_000)
    losing = CustomerFactory(rm=org.rm, branch=org.b1)
    for month in (SEP, OCT, NOV):
        snapshot(losing, month, contribution=-50, aum=1_000)
    rows = rows_of(run_now())
    assert rows[dormant.pk].exit_review and "dormant:17" in rows[dormant.pk].reasons
    assert rows[npl.pk].exit_review and "npl" in rows[npl.pk].reasons
    g = rows[growing.pk]
    assert g.lifecycle == "growth" and not g.exit_review
    assert g.value_tier in ("ordinary", "small") and g.potential is True
    assert "aumgrowth:100.0" in g.reasons and "incomegrowth:100.0" in g.reasons
    assert rows[losing.pk].exit_review and "negative:3" in rows[losing.pk].reasons


def test_bank_wide_ranking(book):
    services.Policy.objects.update(status="retired")
    published_policy(ranking_scope=RankingScope.BANK)
    run = run_now()
    assert [s["scope"] for s in run.report["scopes"]] == [engine.BANK_SCOPE]
    assert run.report["scopes"][0]["customers"] == 29
