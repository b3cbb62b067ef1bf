"""Issue 11, item 4: overrides — a supervisor pins a tier with a reason and an expiry (at most
SEGMENTATION_OVERRIDE_MAX_DAYS ahead); the tier in force changes at once; ended or expired, the computed tier
applies again with its hysteresis; every override, change and expiry is audited."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import translation

from core.errors import Conflict, NotPermitted, ValidationFailed
from core.models import AuditEvent
from segmentation import rules, services
from segmentation.constants import CardTier, SegmentationEvent, ValueTier
from segmentation.models import Assignment, Override

from .builders import build_segmented_world

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def w(db, settings):
    settings.SEGMENTATION_OVERRIDE_MAX_DAYS = 180
    return build_segmented_world()


def pin(w, actor=None, **kwargs):
    values = {"value_tier": ValueTier.IMPORTANT, "card_tier": "", "reason": "战略客户，总行批准",
              "expires_on": TODAY + dt.timedelta(days=30)}
    values.update(kwargs)
    return services.override_set(actor=actor or w.sup_b1, customer=kwargs.pop("customer", w.customers["c_other"]),
                                 today=TODAY, **{k: v for k, v in values.items() if k != "customer"})


def row(w, key="c_other") -> Assignment:
    return Assignment.objects.get(run=w.run, customer=w.customers[key])


def client(user):
    c = Client(HTTP_ACCEPT_LANGUAGE="en")
    c.force_login(user)
    return c


# --- bad input: each with its field message ---

@pytest.mark.parametrize(("kwargs", "field", "message"), [
    ({"reason": "  "}, "reason", rules.OVERRIDE_REASON),
    ({"expires_on": TODAY}, "expires_on", rules.OVERRIDE_PAST),
    ({"expires_on": TODAY - dt.timedelta(days=1)}, "expires_on", rules.OVERRIDE_PAST),
    ({"expires_on": TODAY + dt.timedelta(days=181)}, "expires_on",
     (rules.OVERRIDE_TOO_LONG, {"days": 180, "last": "2027-05-21"})),  # formatted in the test's language
    ({"value_tier": "", "card_tier": ""}, "value_tier", rules.OVERRIDE_NO_TIER),
])
def test_bad_input_is_refused_with_its_field_message(w, kwargs, field, message):
    if isinstance(message, tuple):
        message = message[0] % message[1]
    with pytest.raises(ValidationFailed) as e:
        pin(w, **kwargs)
    assert e.value.fields == {field: [message]}
    assert not Override.objects.exists()
    assert not AuditEvent.objects.filter(type__startswith="segmentation.override").exists()
    assert row(w).value_tier == ValueTier.SECONDARY


def test_the_longest_override_is_accepted(w):
    assert pin(w, expires_on=TODAY + dt.timedelta(days=180)).expires_on == dt.date(2027, 5, 21)


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"reason": ""}, "reason", rules.OVERRIDE_REASON),
    ({"expires_on": "2026-11-01"}, "expires_on", rules.OVERRIDE_PAST),
    ({"expires_on": "2027-12-31"}, "expires_on", (rules.OVERRIDE_TOO_LONG, {"days": 180, "last": "2027-05-21"})),
    ({"value_tier": "", "card_tier": ""}, "value_tier", rules.OVERRIDE_NO_TIER),
])
def test_the_page_shows_each_problem_on_its_field(w, data, field, message):
    form = {"value_tier": "important", "card_tier": "", "reason": "战略客户", "expires_on": "2026-12-31", **data}
    r = client(w.sup_b1).post(reverse("segmentation:override-set", args=[w.customers["c_other"].pk]), form)
    assert r.status_code == 400
    with translation.override(r.wsgi_request.LANGUAGE_CODE):  # the message in the language the page speaks
        expected = str(message[0] % message[1]) if isinstance(message, tuple) else str(message)
    assert r.context["form"].errors == {field: [expected]}
    assert f'data-field-error="{field}"' in r.content.decode()
    assert not Override.objects.exists()


# --- set: the tier in force changes at once, audited ---

def test_set_pins_the_tier_in_force_and_audits(w):
    override = pin(w)
    r = row(w)
    assert (r.value_tier, r.value_tier_computed, r.card_tier, r.overridden) == (
        ValueTier.IMPORTANT, ValueTier.SECONDARY, CardTier.PLATINUM, True)
    assert "override" in r.reasons
    event = AuditEvent.objects.get(type=SegmentationEvent.OVERRIDE_SET)
    assert event.user == w.sup_b1 and event.object_type == "customer"
    assert event.object_id == str(w.customers["c_other"].pk)
    assert event.changes == {"value_tier": ["secondary", "important"], "reason": ["", "战略客户，总行批准"],
                             "expires_on": ["", "2026-12-22"], "override": [None, override.pk]}


def test_a_new_override_replaces_the_active_one_and_the_change_is_audited(w):
    first = pin(w)
    second = pin(w, value_tier="", card_tier=CardTier.BLACK_GOLD, reason="大额资金到账")
    first.refresh_from_db()
    assert first.ended_at is not None and first.ended_by == w.sup_b1
    assert Override.objects.filter(ended_at__isnull=True).get() == second
    r = row(w)
    assert (r.value_tier, r.card_tier) == (ValueTier.SECONDARY, CardTier.BLACK_GOLD)  # value back to computed
    event = AuditEvent.objects.filter(type=SegmentationEvent.OVERRIDE_SET).order_by("-id").first()
    assert event.changes["value_tier"] == ["important", "secondary"]
    assert event.changes["card_tier"] == ["platinum", "black_gold"]
    assert event.changes["reason"] == ["战略客户，总行批准", "大额资金到账"]
    assert event.changes["override"] == [first.pk, second.pk]


def test_an_unclassified_customer_can_be_pinned_for_the_next_run(w):
    from tests.customers.builders import CustomerFactory

    newcomer = CustomerFactory(rm=w.rm, branch=w.b1)
    override = pin(w, customer=newcomer)
    assert override.customer == newcomer
    assert AuditEvent.objects.get(type=SegmentationEvent.OVERRIDE_SET).changes["value_tier"] == ["", "important"]


@pytest.mark.parametrize("who", ["rm", "other_rm", "co_b1"])
def test_only_supervisors_and_head_office_pin(w, who):
    with pytest.raises(NotPermitted):
        pin(w, actor=getattr(w, who))
    assert not Override.objects.exists()


def test_a_supervisor_pins_only_within_the_subtree(w):
    with pytest.raises(NotPermitted):
        pin(w, actor=w.sup_b2)
    assert pin(w, actor=w.ho_user, customer=w.customers["c_b2"]).customer == w.customers["c_b2"]


# --- end and expiry: back to the computed tier with its hysteresis ---

def test_end_restores_the_computed_tiers_and_audits(w):
    a = w.assignments["c_rm"]  # black gold held by hysteresis (1 run below), computed platinum
    a.card_tier_computed = CardTier.PLATINUM
    a.save()
    override = pin(w, customer=w.c_rm, value_tier="", card_tier=CardTier.PRIVATE)
    assert row(w, "c_rm").card_tier == CardTier.PRIVATE
    services.override_end(actor=w.ho_user, override=override)
    r = row(w, "c_rm")
    assert (r.card_tier, r.overridden, r.months_below) == (CardTier.BLACK_GOLD, False, 1)  # the held tier
    assert "override" not in r.reasons
    override.refresh_from_db()
    assert override.ended_by == w.ho_user
    event = AuditEvent.objects.get(type=SegmentationEvent.OVERRIDE_ENDED)
    assert event.user == w.ho_user and event.changes["card_tier"] == ["private", "black_gold"]
    with pytest.raises(Conflict):
        services.override_end(actor=w.ho_user, override=override)


def test_end_needs_the_permission_and_the_scope(w):
    override = pin(w)
    for who in ("rm", "other_rm", "sup_b2"):
        with pytest.raises(NotPermitted):
            services.override_end(actor=getattr(w, who), override=override)
    assert Override.objects.get().ended_at is None


def test_expiry_restores_the_computed_tier_on_the_expiry_day_and_is_audited(w):
    pin(w, expires_on=TODAY + dt.timedelta(days=10))
    pin(w, customer=w.c_rm, value_tier=ValueTier.SMALL, expires_on=TODAY + dt.timedelta(days=11))
    assert services.overrides_expire(today=TODAY + dt.timedelta(days=9)) == 0
    assert services.overrides_expire(today=TODAY + dt.timedelta(days=10)) == 1
    r = row(w)
    assert (r.value_tier, r.card_tier, r.overridden) == (ValueTier.SECONDARY, CardTier.PLATINUM, False)
    assert row(w, "c_rm").value_tier == ValueTier.SMALL  # not yet
    event = AuditEvent.objects.get(type=SegmentationEvent.OVERRIDE_EXPIRED)
    assert event.user is None and event.changes["value_tier"] == ["important", "secondary"]
    assert services.overrides_expire(today=TODAY + dt.timedelta(days=10)) == 0  # safe to run twice
    assert AuditEvent.objects.filter(type=SegmentationEvent.OVERRIDE_EXPIRED).count() == 1


# --- the pages: form, confirmation, end ---

def test_the_page_confirms_before_pinning(w):
    c = client(w.sup_b1)
    url = reverse("segmentation:override-set", args=[w.customers["c_other"].pk])
    assert c.get(url).status_code == 200
    data = {"value_tier": "important", "card_tier": "", "reason": "战略客户 <b>", "expires_on": "2026-12-31"}
    r = c.post(url, data)
    assert r.status_code == 200 and not Override.objects.exists()
    html = r.content.decode()
    assert "Secondary customer → <strong>Important customer</strong>" in html
    assert "战略客户 &lt;b&gt;" in html and 'name="confirm" value="1"' in html
    r = c.post(url, {**data, "confirm": "1"})
    assert r.status_code == 302 and r.url == reverse("customers:detail", args=[w.customers["c_other"].pk])
    override = Override.objects.get()
    assert (override.value_tier, override.reason, override.expires_on) == ("important", "战略客户 <b>",
                                                                           dt.date(2026, 12, 31))


def test_the_end_page_confirms_then_ends(w):
    override = pin(w)
    c = client(w.sup_b1)
    url = reverse("segmentation:override-end", args=[override.pk])
    r = c.get(url)
    assert r.status_code == 200 and "战略客户，总行批准" in r.content.decode()
    assert Override.objects.get().ended_at is None
    r = c.post(url)
    assert r.status_code == 302
    assert Override.objects.get().ended_at is not None
    assert c.post(url).status_code == 404  # no longer active
