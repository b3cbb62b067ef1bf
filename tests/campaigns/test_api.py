"""The campaigns API: drafts with field errors, preview, approval, 409 on a launched campaign, members and outcomes,
messages per customer, job runs, and opt-outs pushed by an integration key that cancel a queued message at send
time; keys need campaigns:read / campaigns:write / consents:write."""

import datetime as dt

import pytest

from campaigns import dispatch, services
from campaigns.models import Message
from org.constants import Scope
from tests.customers.builders import CustomerFactory
from tests.org.builders import build_org

from .conftest import NOW

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pinned_now")]
API = "/api/v1"



@pytest.fixture
def org(db):
    o = build_org()
    o.customers = [CustomerFactory(rm=o.rm, branch=o.b1, consent_sms=True, tags=["代发工资"]) for _ in range(5)]
    return o


BODY = {"name": "代发客户关怀", "audience": {"tags": ["代发工资"]}, "channels": ["sms"],
        "template_zh": "{surname}{honorific}您好", "starts_at": "2026-06-01T11:00:00+08:00"}


def test_the_campaign_lifecycle_through_the_api(org, client_for, key_client):
    sup, ho = client_for(org.sup_b1), client_for(org.ho_user)
    r = sup.post(f"{API}/campaigns/", {**BODY, "template_zh": "{name}送你{coupon}"}, format="json")
    assert r.status_code == 400 and "template_zh" in r.json()["errors"]
    for bad, field in (({"audience": None}, "audience"), ({"audience": [1]}, "audience"),
                       ({"channels": None}, "channels"), ({"control_share": None}, "control_share")):
        r = sup.post(f"{API}/campaigns/", {**BODY, **bad}, format="json")
        assert r.status_code == 400 and field in r.json()["errors"], r.content
    r = sup.post(f"{API}/campaigns/", BODY, format="json")
    assert r.status_code == 201, r.content
    pk = r.json()["id"]
    assert sup.get(f"{API}/campaigns/{pk}/preview/").json()["size"] == 5
    assert sup.post(f"{API}/campaigns/{pk}/approve/").status_code == 403  # its author
    r = ho.post(f"{API}/campaigns/{pk}/approve/")
    assert r.status_code == 200 and r.json()["status"] == "scheduled"
    assert sup.patch(f"{API}/campaigns/{pk}/", {"name": "改"}, format="json").status_code == 409
    services.campaigns_dispatch(now=NOW + dt.timedelta(hours=1))
    members = sup.get(f"{API}/campaigns/{pk}/members/").json()["results"]
    assert len(members) == 5
    rm = client_for(org.rm)
    r = rm.post(f"{API}/campaign-members/{members[0]['id']}/outcome/", {"outcome": "interested"}, format="json")
    assert r.status_code == 200 and r.json()["outcome"] == "interested"
    assert client_for(org.rm_b2).post(f"{API}/campaign-members/{members[0]['id']}/outcome/",
                                      {"outcome": "declined"}, format="json").status_code == 404
    customer = org.customers[0]
    assert rm.get(f"{API}/messages/?customer={customer.pk}").json()["count"] == 1
    reader = key_client(scopes=[Scope.CAMPAIGNS_READ])
    assert reader.get(f"{API}/campaigns/").status_code == 200
    assert reader.post(f"{API}/campaigns/", BODY, format="json").status_code == 403
    assert key_client(scopes=[Scope.CUSTOMERS_READ]).get(f"{API}/campaigns/").status_code == 403
    assert client_for(org.co_b1).get(f"{API}/campaigns/").status_code == 404


def test_an_opt_out_pushed_by_the_gateway_cancels_the_queued_message(org, key_client):
    campaign = services.campaign_save(actor=org.sup_b1, values={**BODY, "starts_at": NOW + dt.timedelta(hours=1)},
                                      now=NOW)
    services.campaign_approve(actor=org.ho_user, campaign=campaign, now=NOW)
    services.campaigns_dispatch(now=NOW + dt.timedelta(hours=1))
    target = org.customers[0]
    gateway = key_client(scopes=[Scope.CONSENTS_WRITE])
    assert key_client(scopes=[Scope.CUSTOMERS_READ]).post(f"{API}/opt-outs/", {"mobile": target.mobile},
                                                          format="json").status_code == 403
    r = gateway.post(f"{API}/opt-outs/", {"mobile": target.mobile, "channels": ["sms"]}, format="json")
    assert r.status_code == 201 and r.json()["changed"][target.cif]["consent_sms"] == [True, False]
    assert gateway.post(f"{API}/opt-outs/", {"mobile": "13900000000"}, format="json").status_code == 404
    assert gateway.post(f"{API}/opt-outs/", {"channels": ["fax"], "cif": target.cif},
                        format="json").status_code == 400
    dispatch.dispatch_all(now=NOW + dt.timedelta(hours=1))
    m = Message.objects.get(campaign=campaign, customer=target)
    assert m.status == "cancelled" and m.cancel_reason == "no_consent"
    assert Message.objects.filter(campaign=campaign, status="sent").count() == 4


def test_job_runs_are_listed(org, client_for):
    from campaigns import jobs

    jobs.run("dispatch", day=NOW.date(), now=NOW)
    r = client_for(org.ho_user).get(f"{API}/job-runs/")
    assert r.status_code == 200 and r.json()["results"][0]["job"] == "dispatch"
