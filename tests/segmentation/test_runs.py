"""Runs on pages and in the API: who may see and start them (404 outside), the start button's refusals, the
progress panel, the report; the what-if preview equals what a run then assigns."""

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext as _

from org.constants import Scope
from segmentation import engine, selectors, services
from segmentation.constants import PolicyStatus, RunStatus
from segmentation.models import Assignment, Run
from tests.customers.builders import FinancialSnapshotFactory
from tests.segmentation.builders import PolicyFactory, published_policy
from tests.segmentation.test_engine import NOV, TODAY, run_now

pytestmark = pytest.mark.django_db

STAFF = ["rm", "other_rm", "sup_b1", "sup_b2", "ho_user", "co_b1"]


@pytest.fixture
def segmented(world):
    for name, customer in world.customers.items():
        FinancialSnapshotFactory(customer=customer, period=NOV, contribution=Decimal(len(name) * 1000),
                                 aum_avg=customer.aum_latest)
    published_policy()
    world.run = run_now()
    return world


def page(world, who):
    client = Client()
    if who != "anonymous":
        client.force_login(getattr(world, who))
    return client


PAGES = {
    "runs": ("get", lambda w: "/segments/runs/", None),
    "run": ("get", lambda w: f"/segments/runs/{w.run.pk}/", None),
    "preview": ("get", lambda w: f"/segments/preview/?policy={w.run.policy_id}&as_of=2026-11", None),
    "start": ("post", lambda w: "/segments/runs/start/", {"as_of": "2026-10"}),
}


@pytest.mark.parametrize("who", [*STAFF, "anonymous"])
@pytest.mark.parametrize("name", PAGES)
def test_run_pages_are_head_office_only(segmented, who, name):
    method, url, data = PAGES[name]
    response = getattr(page(segmented, who), method)(url(segmented), data)
    if who == "anonymous":
        assert response.status_code == 302 and "/login/" in response["Location"]
    elif who == "ho_user":
        assert response.status_code == (302 if method == "post" else 200)
    else:
        assert response.status_code == 404


def test_the_run_page_shows_the_report_and_a_running_run_polls(segmented):
    client = page(segmented, "ho_user")
    body = client.get(f"/segments/runs/{segmented.run.pk}/").content.decode()
    assert 'data-testid="report-table"' in body and "福州分行" in body and "hx-trigger" not in body
    running = Run.objects.create(as_of=dt.date(2026, 10, 1), policy=segmented.run.policy, trigger="manual",
                                 customers_total=10, customers_done=4)
    body = client.get(f"/segments/runs/{running.pk}/").content.decode()
    assert 'hx-trigger="every 2s"' in body and 'data-width="40"' in body
    partial = client.get(f"/segments/runs/{running.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert partial.startswith('<div id="run-status"')


def test_the_start_button_refuses_a_second_run_and_says_why(segmented, django_capture_on_commit_callbacks):
    client = page(segmented, "ho_user")
    Run.objects.create(as_of=dt.date(2026, 10, 1), policy=segmented.run.policy, trigger="manual")
    response = client.post("/segments/runs/start/", {"as_of": "2026-09"}, follow=True)
    with translation.override(response.wsgi_request.LANGUAGE_CODE):
        assert str(_("A segmentation run is already running (started %(when)s); wait for it to finish.")).split("（")[0] \
            .split(" (")[0] in response.content.decode()
    assert Run.objects.filter(as_of=dt.date(2026, 9, 1)).count() == 0


def test_the_start_button_returns_the_done_run_of_the_same_month(segmented):
    client = page(segmented, "ho_user")
    response = client.post("/segments/runs/start/", {"as_of": "2026-11"})
    assert response.status_code == 302 and response["Location"] == f"/segments/runs/{segmented.run.pk}/"
    assert Run.objects.count() == 1


def test_a_bad_month_is_refused_with_the_reason(segmented):
    response = page(segmented, "ho_user").post("/segments/runs/start/", {"as_of": "11/2026"}, follow=True)
    assert "YYYY-MM" in response.content.decode() and Run.objects.count() == 1


@pytest.mark.parametrize("who, list_count, detail, start", [
    ("ho_user", 1, 200, 200), ("sup_b1", 0, 404, 404), ("rm", 0, 404, 404), ("co_b1", 0, 404, 404),
])
def test_runs_api_for_staff(segmented, client_for, who, list_count, detail, start):
    api = client_for(getattr(segmented, who))
    assert api.get("/api/v1/segment-runs/").json()["count"] == list_count
    assert api.get(f"/api/v1/segment-runs/{segmented.run.pk}/").status_code == detail
    assert api.post("/api/v1/segment-runs/", {"as_of": "2026-11-01"}, format="json").status_code == start


def test_runs_api_for_keys(segmented, key_client):
    reader = key_client(scopes=[Scope.SEGMENTS_READ])
    detail = reader.get(f"/api/v1/segment-runs/{segmented.run.pk}/").json()
    assert detail["status"] == "done" and detail["report"]["scopes"]
    assert reader.post("/api/v1/segment-runs/", {}, format="json").status_code == 403
    runner = key_client(scopes=[Scope.SEGMENTS_RUN])
    assert runner.get("/api/v1/segment-runs/").status_code == 403
    response = runner.post("/api/v1/segment-runs/", {"as_of": "2026-11-01"}, format="json")
    assert response.status_code == 200 and response.json()["id"] == segmented.run.pk  # already done: the same run
    Run.objects.create(as_of=dt.date(2026, 10, 1), policy=segmented.run.policy, trigger="api")
    response = runner.post("/api/v1/segment-runs/", {"as_of": "2026-09-01"}, format="json",
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 409 and "already running" in str(response.json())
    assert key_client(scopes=[Scope.CUSTOMERS_READ]).get("/api/v1/segment-runs/").status_code == 403


def test_a_run_started_through_the_api_is_queued_and_audited(segmented, key_client,
                                                            django_capture_on_commit_callbacks):
    runner = key_client(scopes=[Scope.SEGMENTS_RUN])
    with django_capture_on_commit_callbacks() as callbacks:
        response = runner.post("/api/v1/segment-runs/", {"as_of": "2026-10-01"}, format="json")
    assert response.status_code == 202 and response.json()["trigger"] == "api"
    assert len(callbacks) == 1  # the prepare task, sent after commit
    from core.models import AuditEvent

    assert AuditEvent.objects.filter(type="segmentation.run_started", api_key=str(runner.api_key.pk)).exists()


def test_a_month_without_snapshots_or_policy_is_refused_field_by_field(world, client_for):
    api = client_for(world.ho_user)
    response = api.post("/api/v1/segment-runs/", {"as_of": "2026-11-01"}, format="json")
    assert response.status_code == 400 and "policy" in str(response.json())
    response = api.post("/api/v1/segment-runs/", {"as_of": "2026-11-15"}, format="json")
    assert response.status_code == 400 and "as_of" in str(response.json())


def test_the_preview_equals_what_the_run_then_assigns(segmented, client_for):
    draft = PolicyFactory(status=PolicyStatus.DRAFT, pct_important=Decimal(25), pct_secondary=Decimal(25),
                          pct_ordinary=Decimal(25), pct_small=Decimal(25), gold_from=Decimal(150_000))
    preview = engine.preview(draft, NOV, today=TODAY, chunk_size=2)
    api = client_for(segmented.ho_user)
    response = api.post("/api/v1/segment-previews/run/", {"policy": draft.pk, "as_of": "2026-11-01"}, format="json")
    assert response.status_code == 200 and response.json()["value_tiers"] == preview["value_tiers"]
    assert Assignment.objects.count() == 4  # nothing written by the preview

    services.Policy.objects.filter(status=PolicyStatus.PUBLISHED).update(status=PolicyStatus.RETIRED)
    draft.status = PolicyStatus.PUBLISHED
    draft.save()
    run = run_now(chunk_size=3)
    assert run.status == RunStatus.DONE
    import pandas as pd

    rows = pd.DataFrame(list(Assignment.objects.filter(run=run).values(
        "value_tier", "card_tier", "previous_value_tier", "aum_avg", "score")))
    rows["aum_avg"] = rows["aum_avg"].astype(float)
    rows["score"] = rows["score"].astype(float)
    assert engine.summarise(rows) == {k: preview[k] for k in ("value_tiers", "card_tiers", "matrix")}
    assert preview["report"]["scopes"] == run.report["scopes"]


def test_the_preview_page_shows_tiers_matrix_and_cut_offs(segmented):
    body = page(segmented, "ho_user").get(
        f"/segments/preview/?policy={segmented.run.policy_id}&as_of=2026-11").content.decode()
    assert 'data-testid="preview-matrix"' in body and 'data-testid="report-table"' in body
    assert selectors.current_run().pk == segmented.run.pk
