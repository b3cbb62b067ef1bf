"""Campaigns on PostgreSQL: drafts checked field by field (unknown template variables, control group, schedule in
the past, unknown filters), approval by a supervisor who did not prepare it (an empty audience refused), the launch
(audience snapshotted, control group held out by hash, unsuitable customers left out and counted, seniors offered a
high-risk product only through their RM, each message once), editing after launch refused, cancellation, the
dispatcher checking a product offer's suitability again at send time, outcomes and conversions."""

import datetime as dt
from decimal import Decimal

import pytest

from campaigns import dispatch, services
from campaigns.models import Campaign, Member, Message
from core.errors import Conflict, NotPermitted, ValidationFailed
from customers.models import FollowUpTask, Holding
from tests.customers.builders import CustomerFactory
from tests.org.builders import build_org

from .conftest import NOW

pytestmark = pytest.mark.django_db



@pytest.fixture
def org(db):
    o = build_org()
    assessed = dt.date(2026, 1, 10)
    o.fit = [CustomerFactory(rm=o.rm, branch=o.b1, consent_sms=True, risk_level="C4", risk_assessed_on=assessed,
                             birth_date=dt.date(1980, 5, 1), tags=["代发工资"]) for _ in range(40)]
    o.cautious = CustomerFactory(rm=o.rm, branch=o.b1, consent_sms=True, risk_level="C2", risk_assessed_on=assessed,
                                 tags=["代发工资"])
    o.senior = CustomerFactory(rm=o.rm, branch=o.b1, consent_sms=True, risk_level="C5", risk_assessed_on=assessed,
                               birth_date=dt.date(1955, 1, 1), tags=["代发工资"])
    o.elsewhere = CustomerFactory(rm=o.rm_b2, branch=o.b2, consent_sms=True, tags=["代发工资"])
    return o


def draft(org, **values):
    base = {"name": "代发客户理财季", "audience": {"tags": ["代发工资"]}, "channels": ["sms"],
            "template_zh": "{surname}{honorific}您好，{branch}理财新品上市", "starts_at": NOW + dt.timedelta(hours=1)}
    return services.campaign_save(actor=org.sup_b1, values={**base, **values}, now=NOW)


@pytest.mark.parametrize(("values", "field"), [
    ({"template_zh": "{name}您好，赠送{coupon}"}, "template_zh"),
    ({"control_share": Decimal("0.6")}, "control_share"),
    ({"starts_at": NOW - dt.timedelta(minutes=1)}, "starts_at"),
    ({"audience": {"shoe_size": 42}}, "audience.shoe_size"),
    ({"audience": {"age_min": 60, "age_max": 30}}, "audience.age_max"),
    ({"channels": ["pigeon"]}, "channels"),
    ({"product_risk": "R9"}, "product_risk"),
])
def test_bad_drafts_are_refused_field_by_field(org, values, field):
    with pytest.raises(ValidationFailed) as refused:
        draft(org, **values)
    assert field in refused.value.fields
    assert not Campaign.objects.exists()


def test_preview_approval_launch_and_each_message_once(org):
    campaign = draft(org, control_share=Decimal("0.2"), product_risk="R4", product_type="wealth")
    assert campaign.branch == org.b1  # a supervisor's campaign: their branch's customers only
    preview = services.campaign_preview(campaign=campaign, today=NOW.date())
    assert preview["size"] == 42 and preview["unsuitable"] == 1 and preview["warning"] == ""  # C2 < R4
    with pytest.raises(NotPermitted):  # who prepared it does not approve it
        services.campaign_approve(actor=org.sup_b1, campaign=campaign, now=NOW)
    campaign = services.campaign_approve(actor=org.ho_user, campaign=campaign, now=NOW)
    assert campaign.status == "scheduled"
    with pytest.raises(Conflict):
        services.campaign_save(actor=org.sup_b1, campaign=campaign, values={"name": "改名"}, now=NOW)
    assert services.campaigns_dispatch(now=NOW)["launched"] == 0  # not yet its start
    assert services.campaigns_dispatch(now=NOW + dt.timedelta(hours=1))["launched"] == 1
    campaign.refresh_from_db()
    counts = campaign.counts
    assert campaign.status == "running" and counts["targeted"] == 42 and counts["unsuitable"] == 1
    assert counts["control"] + counts["messages"] + counts["rm_tasks"] + counts["unsuitable"] == 42
    senior_held = Member.objects.filter(campaign=campaign, customer=org.senior, excluded="control").exists()
    assert counts["rm_tasks"] == (0 if senior_held else 1)  # a senior: a high-risk product only through the RM
    assert list(FollowUpTask.objects.values_list("customer_id", flat=True)) == ([] if senior_held else [org.senior.pk])
    assert not Message.objects.filter(customer=org.senior).exists()
    assert Member.objects.filter(campaign=campaign).count() == 42
    held = set(Member.objects.filter(campaign=campaign, excluded="control").values_list("customer_id", flat=True))
    assert not Message.objects.filter(customer_id__in=held).exists()
    assert not Message.objects.filter(customer=org.elsewhere).exists()
    assert services.campaign_launch(campaign_id=campaign.pk, now=NOW + dt.timedelta(hours=2)) == counts  # once
    assert Message.objects.filter(campaign=campaign).count() == counts["messages"]


def test_an_empty_audience_is_refused_at_approval(org):
    campaign = draft(org, audience={"tags": ["无此标签"]})
    assert services.campaign_preview(campaign=campaign, today=NOW.date())["warning"]
    with pytest.raises(ValidationFailed) as refused:
        services.campaign_approve(actor=org.ho_user, campaign=campaign, now=NOW)
    assert "audience" in refused.value.fields


def test_suitability_is_checked_again_when_each_message_is_sent(org):
    campaign = services.campaign_approve(actor=org.ho_user, campaign=draft(org, product_risk="R3"), now=NOW)
    services.campaigns_dispatch(now=NOW + dt.timedelta(hours=1))
    target = org.fit[0]
    type(target).objects.filter(pk=target.pk).update(risk_level="C1")  # reassessed meanwhile
    dispatch.dispatch_all(now=NOW + dt.timedelta(hours=1))
    message = Message.objects.get(campaign=campaign, customer=target)
    assert message.status == "cancelled" and message.cancel_reason == "unsuitable"
    assert Message.objects.filter(campaign=campaign, status="sent").count() == 40  # the other fit ones


def test_cancel_stops_queued_messages_with_the_reason(org):
    campaign = services.campaign_approve(actor=org.ho_user, campaign=draft(org), now=NOW)
    services.campaigns_dispatch(now=NOW + dt.timedelta(hours=1))
    services.campaign_cancel(actor=org.sup_b1, campaign=campaign, now=NOW + dt.timedelta(minutes=61))
    assert set(Message.objects.filter(campaign=campaign).values_list("status", "cancel_reason")) == {
        ("cancelled", "campaign_cancelled")}
    with pytest.raises(Conflict):
        services.campaign_cancel(actor=org.sup_b1, campaign=campaign, now=NOW)


def test_outcomes_and_conversions_from_holdings(org):
    campaign = services.campaign_approve(actor=org.ho_user, campaign=draft(org, product_type="wealth"), now=NOW)
    services.campaigns_dispatch(now=NOW + dt.timedelta(hours=1))
    member = Member.objects.get(campaign=campaign, customer=org.fit[0])
    services.outcome_record(actor=org.rm, member=member, outcome="interested", now=NOW + dt.timedelta(days=1))
    with pytest.raises(ValidationFailed):
        services.outcome_record(actor=org.rm, member=member, outcome="maybe", now=NOW)
    with pytest.raises(NotPermitted):
        services.outcome_record(actor=org.rm_b2, member=member, outcome="declined", now=NOW)
    Holding.objects.create(customer=org.fit[1], account_no="WM0001", product_code="WM1", product_name="稳健理财",
                           product_type="wealth", balance=Decimal(50000), opened_on=dt.date(2026, 6, 10))
    result = services.campaigns_dispatch(now=NOW + dt.timedelta(days=31))
    assert result["completed"] == 1
    campaign.refresh_from_db()
    assert campaign.status == "completed"
    assert Member.objects.get(campaign=campaign, customer=org.fit[1]).converted_at is not None
    assert Member.objects.get(campaign=campaign, customer=org.fit[0]).outcome == "interested"
