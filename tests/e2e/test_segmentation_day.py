"""Segmentation end to end, in Chromium against the live server with a real Celery worker: head office drafts a
policy version (a bad pyramid is refused beside its field), previews it, submits it; a second head-office user
approves it; a run completes while its page shows the progress; a supervisor reads the pyramid and the migration
matrix down to the customers who moved; an RM sees the overdue contacts and the downgrade watch."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.integration.conftest import celery_workers, reachable_redis_url

from .conftest import PASSWORD, t


@pytest.fixture
def worker(settings):
    """A real Celery worker on a private queue; runs started from the pages go to it."""
    with celery_workers(1, reachable_redis_url()) as queue:
        settings.SEGMENTATION_QUEUE = queue
        yield queue


def month(today, back):
    first = today.replace(day=1)
    for _ in range(back):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return first


@pytest.fixture
def segmented(day):
    """Two head-office users; snapshots of this month and the last with monthly average AUM; policy v1 published
    by four eyes and last month classified under it (the run in force before the day starts)."""
    from customers.ingest.children import snapshots_upsert
    from org.access import ApiClient
    from org.constants import Role
    from org.services import api_key_create, staff_create
    from segmentation import engine, services

    today = timezone.localdate()
    this, last = month(today, 0), month(today, 1)
    ho = day.branches["ho"]
    day.staff["ho_a"] = staff_create(username="ho_a", password=PASSWORD, role=Role.HEAD_OFFICE, branch=ho,
                                     last_name="周", first_name="总")
    day.staff["ho_b"] = staff_create(username="ho_b", password=PASSWORD, role=Role.HEAD_OFFICE, branch=ho,
                                     last_name="吴", first_name="审")
    figures = {  # cif: (last month's AUM, this month's AUM, contribution)
        "C1000001": (500_000, 520_000, 3_000), "C1000002": (90_000, 88_000, 200), "C1000003": (230_000, 230_000, 900),
        "C2000001": (1_500_000, 900_000, 5_000),  # 孙丽娟 falls below black gold: the downgrade watch
    }
    records = []
    for cif, (before, now, contribution) in figures.items():
        for period, aum in ((last, before), (this, now)):
            records.append({"cif": cif, "period": period.isoformat(), "aum": str(aum), "aum_avg": str(aum),
                            "deposits": str(aum), "contribution": str(contribution), "products_held": 1})
    core_banking = ApiClient(api_key_create(name="core-banking-seg", scopes=["snapshots:write"])[0])
    result = snapshots_upsert(records, actor=core_banking, today=today)
    assert not result.errors, result.errors

    v1 = services.policy_draft(actor=day.staff["ho_a"])
    services.policy_submit(actor=day.staff["ho_a"], policy=v1)
    services.policy_approve(actor=day.staff["ho_b"], policy=v1, now=timezone.now())
    run, _ = services.run_start(as_of=last, dispatch=False)
    for index, (lo, hi) in enumerate(services.run_prepare(run_id=run.pk)):
        engine.run_chunk(run.pk, index, lo, hi, today=today)
    day.months = (last, this)
    return day


def test_segmentation_day(e2e, segmented, worker):
    from playwright.sync_api import expect

    from segmentation.models import Policy

    page = e2e.page
    zh = "zh-hans"
    this = segmented.months[1]

    # --- Head office drafts version 2 and gets a wrong pyramid back beside its field, nothing saved.
    e2e.login("ho_a")
    e2e.go("/segments/policies/")
    with page.expect_navigation():
        page.get_by_test_id("policy-new").click()
    form = page.get_by_test_id("policy-form")
    form.locator("#id_pct_important").fill("2")
    form.locator("#id_pct_small").fill("40")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    expect(page.locator("[data-field-error=pct_small]")).to_contain_text("100")
    e2e.shot("pyramid-refused")
    # The refused form answers 400 on purpose, which Chromium logs as a failed resource: that one, and only it.
    refused = [e for e in e2e.problems.console_errors if "400" in e and "/edit/" in e]
    assert len(refused) == 1
    e2e.problems.console_errors.remove(refused[0])
    form.locator("#id_pct_small").fill("49")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    draft = Policy.objects.get(version=2)
    assert (draft.pct_important, draft.pct_small, draft.status) == (Decimal(2), Decimal(49), "draft")
    expect(page.get_by_test_id("policy-submit")).to_be_visible()

    # --- What-if: the draft on current data; nothing written.
    e2e.go(f"/segments/preview/?policy={draft.pk}&as_of={this:%Y-%m}")
    expect(page.get_by_test_id("preview-value-tiers")).to_contain_text(t("Important customer", zh))
    expect(page.get_by_test_id("preview-matrix")).to_be_visible()
    e2e.shot("what-if")

    # --- Submitted; the author cannot publish it (four eyes).
    e2e.go(f"/segments/policies/{draft.pk}/")
    with page.expect_navigation():
        page.get_by_test_id("policy-submit").click()
    expect(page.get_by_test_id("policy-needs-other")).to_be_visible()
    expect(page.get_by_test_id("policy-approve")).to_have_count(0)

    # --- A second head-office user approves it after a confirmation page.
    page.context.clear_cookies()
    e2e.login("ho_b")
    e2e.go(f"/segments/policies/{draft.pk}/")
    with page.expect_navigation():
        page.get_by_test_id("policy-approve").click()
    expect(page.get_by_test_id("policy-differences")).to_be_visible()
    with page.expect_navigation():
        page.get_by_test_id("policy-approve-confirm").click()
    draft.refresh_from_db()
    assert draft.status == "published" and draft.approved_by.username == "ho_b"
    e2e.shot("published")

    # --- The run: started from its page (confirmed), done by the worker while the page polls.
    e2e.go("/segments/runs/")
    page.locator("#id_as_of").fill(f"{this:%Y-%m}")
    with page.expect_navigation():
        page.get_by_test_id("run-start-form").locator("button[type=submit]").click()
    assert any("?" in message or "？" in message for _kind, message in e2e.dialogs)  # the confirmation
    expect(page.get_by_test_id("run-status")).to_have_text(t("Done", zh), timeout=90_000)
    expect(page.get_by_test_id("report-table")).to_contain_text("福州分行")
    e2e.shot("run-done")

    # --- A supervisor: the pyramid and the migration matrix, down to the customers who moved.
    page.context.clear_cookies()
    e2e.login("sup_fz")
    e2e.go("/segments/supervision/")
    expect(page.get_by_test_id("pyramid-table")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("厦门分行")
    e2e.shot("pyramid")
    e2e.go("/segments/supervision/migration/")
    matrix = page.get_by_test_id("matrix-table")
    expect(matrix).to_be_visible()
    with page.expect_navigation():
        matrix.locator("a").first.click()
    expect(page.get_by_test_id("movers-table")).to_be_visible()
    e2e.shot("movers")

    # --- An RM: overdue contacts and the downgrade watch (孙丽娟 must keep 1,000,000 to stay black gold).
    page.context.clear_cookies()
    e2e.login("rm_chen")
    e2e.go("/segments/overdue/")
    expect(page.get_by_test_id("overdue-table")).to_contain_text("孙丽娟")
    e2e.go("/segments/downgrade-watch/")
    watch = page.get_by_test_id("watch-table")
    expect(watch).to_contain_text("孙丽娟")
    expect(watch).to_contain_text("1,000,000")
    e2e.shot("downgrade-watch")
    e2e.problems.assert_clean()
