"""Campaign pages: the editor (field-level errors with what was typed kept and nothing saved, the audience preview
without saving, an empty audience warned), approval (refused to the author, an empty audience refused with the
reason), edits after approval turned away, cancellation after a confirmation, the members' outcomes, and the funnel
with results by tier and the uplift against the control group. Values a user typed are escaped. Pages run a fixed
number of queries whatever the number of members."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from campaigns import dispatch, selectors, services
from campaigns.models import Campaign, Member, Message
from customers import services as customer_services
from customers.models import Holding
from segmentation.constants import ValueTier
from tests.customers.builders import CustomerFactory
from tests.org.builders import build_org
from tests.segmentation.builders import RunFactory, assign, published_policy

from .conftest import NOW, SH

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pinned_now")]
FORM = {"name": "代发客户理财季", "tags": "代发工资", "control_percent": "0", "channels": ["sms"],
        "template_zh": "{surname}{honorific}您好，{branch}理财新品上市", "attribution_days": "30",
        "starts_at": "2026-06-01T11:00"}



@pytest.fixture
def org(db):
    o = build_org()
    o.customers = [CustomerFactory(rm=o.rm, branch=o.b1, consent_sms=True, tags=["代发工资"]) for _ in range(6)]
    o.elsewhere = CustomerFactory(rm=o.rm_b2, branch=o.b2, consent_sms=True, tags=["代发工资"])
    return o


def signed_in(client, user):
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return client


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"template_zh": "{name}您好，送您{coupon}"}, "template_zh", "coupon"),
    ({"control_percent": "60"}, "control_percent", "50"),
    ({"age_min": "60", "age_max": "30"}, "age_max", ""),
    ({"starts_at": "2026-05-31T09:00"}, "starts_at", ""),
    ({"channels": []}, "channels", ""),
    ({"name": ""}, "name", ""),
])
def test_the_editor_shows_errors_beside_the_fields_and_saves_nothing(org, client, changes, field, message):
    r = signed_in(client, org.sup_b1).post("/campaigns/new/", {**FORM, **changes, "save": "1"})
    assert r.status_code == 400
    errors = r.context["form"].errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert f'data-field-error="{field}"'.encode() in r.content
    assert "代发客户理财季".encode() in r.content or field == "name"  # what was typed is kept
    assert not Campaign.objects.exists()


def test_preview_counts_the_audience_without_saving_and_warns_when_empty(org, client):
    c = signed_in(client, org.sup_b1)
    r = c.post("/campaigns/new/", {**FORM, "preview": "1"})
    assert r.status_code == 200 and r.context["preview"]["size"] == 6  # B1's customers only: the supervisor's
    assert b'data-testid="audience-preview"' in r.content
    r = c.post("/campaigns/new/", {**FORM, "tags": "无此标签", "preview": "1"})
    assert r.context["preview"]["size"] == 0 and r.context["preview"]["warning"]
    assert not Campaign.objects.exists()


def test_save_approve_launch_and_no_edit_after_approval(org, client):
    r = signed_in(client, org.sup_b1).post("/campaigns/new/", {**FORM, "control_percent": "20", "save": "1"})
    campaign = Campaign.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/campaigns/{campaign.pk}/"
    assert campaign.audience == {"tags": ["代发工资"]} and campaign.control_share == Decimal("0.2")
    assert campaign.starts_at == dt.datetime(2026, 6, 1, 11, tzinfo=SH) and campaign.branch == org.b1
    r = client.post(f"/campaigns/{campaign.pk}/approve/", {"version": campaign.version})
    assert r.status_code == 403  # who prepared it does not approve it
    ho = signed_in(type(client)(), org.ho_user)
    r = ho.post(f"/campaigns/{campaign.pk}/approve/", {"version": campaign.version}, follow=True)
    assert b"Approved" in r.content
    campaign.refresh_from_db()
    assert campaign.status == "scheduled" and campaign.approved_by == org.ho_user
    r = client.get(f"/campaigns/{campaign.pk}/edit/", follow=True)
    assert r.redirect_chain[-1][0] == f"/campaigns/{campaign.pk}/" and b"Only a draft" in r.content
    r = client.post(f"/campaigns/{campaign.pk}/edit/", {**FORM, "name": "改名", "save": "1"})
    campaign.refresh_from_db()
    assert r.status_code == 302 and campaign.name == "代发客户理财季"


def test_approval_of_an_empty_audience_is_refused_with_the_reason(org, client):
    campaign = services.campaign_save(actor=org.sup_b1, values={
        "name": "空", "audience": {"tags": ["无此标签"]}, "channels": ["sms"], "template_zh": "您好",
        "starts_at": NOW + dt.timedelta(hours=1)}, now=NOW)
    r = signed_in(client, org.ho_user).post(f"/campaigns/{campaign.pk}/approve/", {"version": campaign.version},
                                            follow=True)
    assert b"Not approved" in r.content and b"matches no customer" in r.content
    campaign.refresh_from_db()
    assert campaign.status == "draft"


def launched(org, **values) -> Campaign:
    base = {"name": "代发客户关怀", "audience": {"tags": ["代发工资"]}, "channels": ["sms"],
            "template_zh": "{surname}{honorific}您好", "starts_at": NOW + dt.timedelta(minutes=5)}
    campaign = services.campaign_save(actor=org.sup_b1, values={**base, **values}, now=NOW)
    services.campaign_approve(actor=org.ho_user, campaign=campaign, now=NOW)
    services.campaign_launch(campaign_id=campaign.pk, now=NOW + dt.timedelta(minutes=5))
    campaign.refresh_from_db()
    return campaign


def test_cancel_asks_first_then_cancels_the_queued_messages(org, client):
    campaign = launched(org)
    c = signed_in(client, org.sup_b1)
    r = c.get(f"/campaigns/{campaign.pk}/cancel/")
    assert r.status_code == 200 and r.context["queued"] == 6 and b'data-testid="confirm-cancel"' in r.content
    campaign.refresh_from_db()
    assert campaign.status == "running"  # asking changes nothing
    r = c.post(f"/campaigns/{campaign.pk}/cancel/", {"reason": "预算调整"})
    assert r.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == "cancelled"
    assert set(Message.objects.filter(campaign=campaign).values_list("status", flat=True)) == {"cancelled"}
    r = c.get(f"/campaigns/{campaign.pk}/cancel/", follow=True)
    assert b"ended already" in r.content


def test_outcomes_recorded_on_the_members_page_keep_the_filters(org, client):
    campaign = launched(org)
    member = Member.objects.filter(campaign=campaign).order_by("id").first()
    c = signed_in(client, org.rm)
    r = c.post(f"/campaigns/{campaign.pk}/members/{member.pk}/outcome/",
               {"outcome": "interested", "query": "group=contacted&page=1"})
    assert r.status_code == 302 and r["Location"] == f"/campaigns/{campaign.pk}/members/?group=contacted&page=1"
    member.refresh_from_db()
    assert member.outcome == "interested"
    r = c.post(f"/campaigns/{campaign.pk}/members/{member.pk}/outcome/", {"outcome": "maybe"}, follow=True)
    assert b"Choose an outcome" in r.content
    member.refresh_from_db()
    assert member.outcome == "interested"
    r = c.get(f"/campaigns/{campaign.pk}/members/?outcome=interested")
    assert r.context["page"].paginator.count == 1


def test_the_funnel_by_tier_with_the_uplift(org, client):
    policy = published_policy()
    run = RunFactory(policy=policy, is_current=True)
    extra = [CustomerFactory(rm=org.rm, branch=org.b1, consent_sms=True, tags=["代发工资"]) for _ in range(34)]
    book = [*org.customers, *extra]
    for i, customer in enumerate(book):
        assign(run, customer, value_tier=ValueTier.IMPORTANT if i < 10 else ValueTier.ORDINARY)
    campaign = launched(org, control_share=Decimal("0.5"), product_type="wealth")
    members = {m.customer_id: m for m in Member.objects.filter(campaign=campaign)}
    treated = [c for c in book if members[c.pk].excluded == ""]
    control = [c for c in book if members[c.pk].excluded == "control"]
    assert treated and control and len(treated) + len(control) == 40
    dispatch.dispatch_all(now=NOW + dt.timedelta(minutes=5))
    services.outcome_record(actor=org.rm, member=members[treated[0].pk], outcome="interested", now=NOW)
    services.outcome_record(actor=org.rm, member=members[treated[1].pk], outcome="converted", now=NOW)
    Holding.objects.create(customer=control[0], account_no="WM1", product_code="WM", product_name="理财",
                           product_type="wealth", balance=Decimal(1000), opened_on=NOW.date())
    services.conversions_record(campaign=campaign, now=NOW + dt.timedelta(days=1))
    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):  # after the launch: an opt-out
        customer_services.consent_withdraw(actor=org.sup_b1, customer=treated[2], channels=["sms"])

    total, tiers = selectors.campaign_results(org.sup_b1, campaign)
    assert (total.targeted, total.control, total.treated) == (40, len(control), len(treated))
    assert total.contacted == len(treated)  # every treated member's SMS went out
    assert (total.responded, total.converted, total.opted_out, total.control_converted) == (2, 1, 1, 1)
    assert total.uplift is not None
    assert total.uplift.uplift == pytest.approx(1 / len(treated) - 1 / len(control))
    assert total.uplift.low < total.uplift.uplift < total.uplift.high
    assert [t.tier for t in tiers] == ["important", "ordinary"]
    assert sum(t.targeted for t in tiers) == 40 and tiers[0].targeted == 10

    r = signed_in(client, org.sup_b1).get(f"/campaigns/{campaign.pk}/")
    assert b'data-testid="funnel"' in r.content and b'data-testid="uplift"' in r.content
    assert b'data-tier="important"' in r.content and b'data-tier="ordinary"' in r.content
    mine = selectors.campaign_results(org.rm_b2, campaign)[0]
    assert mine.targeted == 0  # another branch's RM sees none of these customers


def test_user_values_are_escaped(org, client):
    campaign = services.campaign_save(actor=org.sup_b1, values={
        "name": "<script>alert(1)</script>", "goal": "<b>目标</b>", "audience": {"tags": ["<i>x</i>"]},
        "channels": ["sms"], "template_zh": "<img src=x>"}, now=NOW)
    c = signed_in(client, org.sup_b1)
    for path in ("/campaigns/", f"/campaigns/{campaign.pk}/"):
        body = c.get(path).content
        assert b"<script>alert(1)</script>" not in body and b"&lt;script&gt;" in body
        assert b"<b>\xe7\x9b\xae\xe6\xa0\x87</b>" not in body
    assert b"<img src=x>" not in c.get(f"/campaigns/{campaign.pk}/").content


def test_pages_run_a_fixed_number_of_queries(org, client, django_assert_max_num_queries):
    campaign = launched(org, control_share=Decimal("0.3"))
    c = signed_in(client, org.sup_b1)
    paths = ("/campaigns/", f"/campaigns/{campaign.pk}/", f"/campaigns/{campaign.pk}/members/")
    with django_assert_max_num_queries(40) as few:
        for path in paths:
            assert c.get(path).status_code == 200
    small = len(few.captured_queries)
    for _ in range(30):
        CustomerFactory(rm=org.rm, branch=org.b1, consent_sms=True, tags=["代发工资"])
    launched(org, name="第二期", control_share=Decimal("0.3"))
    second = Campaign.objects.get(name="第二期")
    with django_assert_max_num_queries(40) as many:
        for path in ("/campaigns/", f"/campaigns/{second.pk}/", f"/campaigns/{second.pk}/members/"):
            assert c.get(path).status_code == 200
    assert len(many.captured_queries) == small
