"""The segmentation policy (DOMAIN.md §3, issue 11): versioned, draft → awaiting approval → published, four eyes.

Bad input is refused field by field and nothing is written; the author never approves their own version; publishing
retires the version in force in the same transaction, and two publications at once never end in a 500.
"""

import datetime as dt
import threading
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from core.errors import Conflict, NotPermitted, ValidationFailed
from core.models import AuditEvent
from org.access import ApiClient
from segmentation import rules, selectors, services
from segmentation.constants import PolicyStatus, SegmentationEvent
from segmentation.models import Policy
from tests.org.builders import ApiKeyFactory, HeadOfficeUserFactory, build_org

from .builders import PolicyFactory, published_policy

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
API = "/api/v1/segment-policies"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def org(org_world):
    org_world.ho2 = HeadOfficeUserFactory(username="ho2", branch=org_world.ho)
    return org_world


def events(policy, event):
    return AuditEvent.objects.filter(object_type="policy", object_id=str(policy.pk), type=event)


def pending(org, *, author=None) -> Policy:
    """A version drafted and submitted by ``author`` (default ho2): ho_user may approve it."""
    author = author or org.ho2
    policy = services.policy_draft(actor=author)
    return services.policy_submit(actor=author, policy=policy)


# --- drafts ---

def test_first_draft_has_the_documented_defaults(org):
    policy = services.policy_draft(actor=org.ho_user)
    assert (policy.version, policy.status, policy.created_by) == (1, PolicyStatus.DRAFT, org.ho_user)
    assert policy.pyramid == rules.DEFAULT_PYRAMID
    assert policy.card_thresholds == rules.DEFAULT_CARD_THRESHOLDS
    assert policy.weights == rules.DEFAULT_WEIGHTS
    assert policy.contact_days == rules.DEFAULT_CONTACT_DAYS
    assert events(policy, SegmentationEvent.POLICY_CREATED).get().user == org.ho_user


def test_draft_copies_the_published_version(org):
    published_policy(version=4, pct_important=Decimal(2), pct_small=Decimal(49), gold_from=Decimal(50_000),
                     small_channels=["sms"], exit_non_performing=False, note="old note")
    policy = services.policy_draft(actor=org.ho_user)
    assert policy.version == 5
    assert (policy.pct_important, policy.pct_small, policy.gold_from) == (2, 49, 50_000)
    assert policy.small_channels == ["sms"] and policy.exit_non_performing is False
    assert policy.note == ""  # the author says what changed in this version


def test_a_second_open_version_is_refused(org):
    first = services.policy_draft(actor=org.ho_user)
    with pytest.raises(Conflict) as refused:
        services.policy_draft(actor=org.ho2)
    assert "Version 1" in str(refused.value.message)
    services.policy_submit(actor=org.ho_user, policy=first)
    with pytest.raises(Conflict):  # awaiting approval is still open
        services.policy_draft(actor=org.ho2)
    assert Policy.objects.count() == 1


def test_draft_with_values_is_checked_and_nothing_is_created_on_error(org):
    audited = AuditEvent.objects.count()
    with pytest.raises(ValidationFailed) as refused:
        services.policy_draft(actor=org.ho_user, values={"pct_small": Decimal(10)})
    assert "pct_small" in refused.value.fields
    assert not Policy.objects.exists() and AuditEvent.objects.count() == audited


# --- changing a draft ---

def test_update_changes_the_draft_and_audits_old_and_new(org):
    policy = services.policy_draft(actor=org.ho_user)
    services.policy_update(actor=org.ho_user, policy=policy, values={
        "pct_important": Decimal(2), "pct_secondary": Decimal(18), "ranking_scope": "bank",
        "small_channels": ["email"], "note": "bank-wide ranking"})
    policy.refresh_from_db()
    assert (policy.pct_important, policy.ranking_scope, policy.small_channels) == (2, "bank", ["email"])
    changes = events(policy, SegmentationEvent.POLICY_CHANGED).get().changes
    assert changes["pct_important"] == ["1.00", "2"] and changes["ranking_scope"] == ["branch", "bank"]
    assert changes["small_channels"] == [["sms", "wechat", "email"], ["email"]]


def test_update_without_changes_writes_no_event(org):
    policy = services.policy_draft(actor=org.ho_user)
    services.policy_update(actor=org.ho_user, policy=policy, values={"pct_important": Decimal("1.00")})
    assert not events(policy, SegmentationEvent.POLICY_CHANGED).exists()


BAD_INPUTS = {
    # name: (values, field, message)
    "percentages not summing to 100": ({"pct_important": Decimal(5)}, "pct_small",
                                       (rules.PYRAMID_SUM, {"total": "104"})),
    "unordered thresholds": ({"platinum_from": Decimal(2_000_000)}, "black_gold_from",
                             (rules.THRESHOLD_ORDER, {"lower": "2,000,000.00"})),
    "overlapping thresholds": ({"platinum_from": Decimal(100_000)}, "platinum_from",
                               (rules.THRESHOLD_ORDER, {"lower": "100,000.00"})),
    "lowest threshold at 0": ({"gold_from": Decimal(0)}, "gold_from", rules.THRESHOLD_ABOVE_ZERO),
    "negative interval": ({"ordinary_contact_days": -30}, "ordinary_contact_days",
                          "Ensure this value is greater than or equal to 1."),
    "zero interval": ({"important_contact_days": 0}, "important_contact_days",
                      "Ensure this value is greater than or equal to 1."),
    "negative downgrade wait": ({"downgrade_after": -1}, "downgrade_after",
                                "Ensure this value is greater than or equal to 1."),
    "all weights zero": ({"weight_contribution": Decimal(0)}, "weight_contribution", rules.WEIGHTS_ZERO),
    "negative percentage": ({"pct_important": Decimal(-1), "pct_small": Decimal(51)}, "pct_important",
                            "Ensure this value is greater than or equal to 0."),
    "unknown channel": ({"small_channels": ["fax"]}, "small_channels", None),
    "unknown ranking scope": ({"ranking_scope": "planet"}, "ranking_scope", None),
    "not a setting": ({"status": PolicyStatus.PUBLISHED}, "status", "Not a setting of the policy."),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_refused_per_field_and_nothing_is_written(org, case):
    values, field, message = BAD_INPUTS[case]
    policy = services.policy_draft(actor=org.ho_user)
    with pytest.raises(ValidationFailed) as refused:
        services.policy_update(actor=org.ho_user, policy=policy, values=values)
    assert field in refused.value.fields, refused.value.fields
    if isinstance(message, tuple):  # a message with figures: formatted in the language the test runs in
        message = message[0] % message[1]
    if message is not None:
        assert str(message) in refused.value.fields[field]
    fresh = Policy.objects.get(pk=policy.pk)
    assert fresh.pyramid == rules.DEFAULT_PYRAMID and fresh.card_thresholds == rules.DEFAULT_CARD_THRESHOLDS
    assert fresh.status == PolicyStatus.DRAFT
    assert not events(policy, SegmentationEvent.POLICY_CHANGED).exists()


def test_every_problem_comes_back_at_once(org):
    policy = services.policy_draft(actor=org.ho_user)
    with pytest.raises(ValidationFailed) as refused:
        services.policy_update(actor=org.ho_user, policy=policy, values={
            "pct_small": Decimal(60), "gold_from": Decimal(500_000), "weight_contribution": Decimal(0),
            "small_contact_days": -1})
    assert {"pct_small", "platinum_from", "weight_contribution", "small_contact_days"} <= set(refused.value.fields)


def test_only_a_draft_can_be_changed(org):
    policy = pending(org)
    with pytest.raises(Conflict):
        services.policy_update(actor=org.ho2, policy=policy, values={"note": "late change"})
    assert Policy.objects.get(pk=policy.pk).note == ""


# --- submit, approve, send back ---

def test_four_eyes_publish_retires_the_version_in_force(org):
    old = published_policy(version=1)
    policy = pending(org)
    assert (policy.status, policy.submitted_by) == (PolicyStatus.PENDING, org.ho2)
    services.policy_approve(actor=org.ho_user, policy=policy, now=NOW)
    policy.refresh_from_db()
    old.refresh_from_db()
    assert (policy.status, policy.approved_by, policy.published_at) == (PolicyStatus.PUBLISHED, org.ho_user, NOW)
    assert old.status == PolicyStatus.RETIRED
    assert selectors.published_policy() == policy
    event = events(policy, SegmentationEvent.POLICY_PUBLISHED).get()
    assert event.user == org.ho_user and event.changes["published_version"] == [1, 2]
    assert events(policy, SegmentationEvent.POLICY_SUBMITTED).get().user == org.ho2


@pytest.mark.parametrize("approver", ["author", "submitter"])
def test_self_approval_is_refused_and_nothing_is_published(org, approver):
    old = published_policy(version=1)
    policy = services.policy_draft(actor=org.ho_user)
    services.policy_submit(actor=org.ho2, policy=policy)  # drafted by ho_user, submitted by ho2
    actor = org.ho_user if approver == "author" else org.ho2
    with pytest.raises(ValidationFailed) as refused:
        services.policy_approve(actor=actor, policy=policy, now=NOW)
    assert refused.value.fields == {"approved_by": [str(rules.SELF_APPROVAL)]}
    assert Policy.objects.get(pk=policy.pk).status == PolicyStatus.PENDING
    assert Policy.objects.get(pk=old.pk).status == PolicyStatus.PUBLISHED
    assert not events(policy, SegmentationEvent.POLICY_PUBLISHED).exists()


def test_with_four_eyes_a_draft_is_submitted_first(org):
    policy = services.policy_draft(actor=org.ho2)
    with pytest.raises(Conflict):
        services.policy_approve(actor=org.ho_user, policy=policy, now=NOW)
    assert Policy.objects.get(pk=policy.pk).status == PolicyStatus.DRAFT


@override_settings(SEGMENTATION_FOUR_EYES=False)
def test_without_four_eyes_the_author_publishes_directly(org):
    old = published_policy(version=1)
    policy = services.policy_draft(actor=org.ho_user)
    services.policy_approve(actor=org.ho_user, policy=policy, now=NOW)
    policy.refresh_from_db()
    assert (policy.status, policy.approved_by, policy.submitted_by) == (PolicyStatus.PUBLISHED, org.ho_user,
                                                                        org.ho_user)
    assert Policy.objects.get(pk=old.pk).status == PolicyStatus.RETIRED


@override_settings(SEGMENTATION_FOUR_EYES=False)
def test_without_four_eyes_a_submitted_version_may_be_approved_by_its_author(org):
    policy = pending(org)
    services.policy_approve(actor=org.ho2, policy=policy, now=NOW)
    assert Policy.objects.get(pk=policy.pk).status == PolicyStatus.PUBLISHED


def test_a_published_or_retired_version_is_not_published_again(org):
    policy = pending(org)
    services.policy_approve(actor=org.ho_user, policy=policy, now=NOW)
    with pytest.raises(Conflict):
        services.policy_approve(actor=org.ho_user, policy=policy, now=NOW)
    retired = PolicyFactory(status=PolicyStatus.RETIRED, created_by=org.ho2)
    with pytest.raises(Conflict):
        services.policy_approve(actor=org.ho_user, policy=retired, now=NOW)
    assert list(Policy.objects.filter(status=PolicyStatus.PUBLISHED)) == [policy]


def test_an_invalid_version_is_never_published(org):
    # Written past the services (e.g. a version drafted before a rule changed): checked again when published.
    policy = PolicyFactory(status=PolicyStatus.PENDING, pct_small=Decimal(10), created_by=org.ho2,
                           submitted_by=org.ho2)
    with pytest.raises(ValidationFailed) as refused:
        services.policy_approve(actor=org.ho_user, policy=policy, now=NOW)
    assert "pct_small" in refused.value.fields
    assert not Policy.objects.filter(status=PolicyStatus.PUBLISHED).exists()


def test_send_back_returns_to_draft_with_the_reason(org):
    policy = pending(org)
    services.policy_reject(actor=org.ho_user, policy=policy, reason="  门槛太低  ")
    policy.refresh_from_db()
    assert (policy.status, policy.submitted_by) == (PolicyStatus.DRAFT, None)
    assert events(policy, SegmentationEvent.POLICY_REJECTED).get().changes["reason"] == [None, "门槛太低"]
    assert selectors.policy_view(org.ho_user, policy.pk).sent_back.changes["reason"][1] == "门槛太低"
    services.policy_update(actor=org.ho2, policy=policy, values={"gold_from": Decimal(150_000)})  # editable again


@pytest.mark.parametrize("reason, message", [("", "Say what should change before it is submitted again."),
                                             ("x" * 201, "At most 200 characters.")])
def test_send_back_needs_a_reason(org, reason, message):
    policy = pending(org)
    with pytest.raises(ValidationFailed) as refused:
        services.policy_reject(actor=org.ho_user, policy=policy, reason=reason)
    assert refused.value.fields == {"reason": [message]}
    assert Policy.objects.get(pk=policy.pk).status == PolicyStatus.PENDING


def test_only_a_pending_version_is_sent_back(org):
    policy = services.policy_draft(actor=org.ho2)
    with pytest.raises(Conflict):
        services.policy_reject(actor=org.ho_user, policy=policy, reason="why")


@pytest.mark.parametrize("who", ["rm", "sup_b1", "co_b1", "key"])
def test_only_head_office_writes(org, who):
    actor = ApiClient(ApiKeyFactory()) if who == "key" else getattr(org, who)
    policy = PolicyFactory(created_by=org.ho2)
    audited = AuditEvent.objects.count()
    calls = [lambda: services.policy_draft(actor=actor),
             lambda: services.policy_update(actor=actor, policy=policy, values={"note": "x"}),
             lambda: services.policy_submit(actor=actor, policy=policy),
             lambda: services.policy_approve(actor=actor, policy=policy, now=NOW),
             lambda: services.policy_reject(actor=actor, policy=policy, reason="x")]
    for call in calls:
        with pytest.raises(NotPermitted):
            call()
    assert Policy.objects.get(pk=policy.pk).status == PolicyStatus.DRAFT
    assert AuditEvent.objects.count() == audited


# --- two publications at once ---

@pytest.mark.django_db(transaction=True)
def test_two_approvals_at_once_publish_once_and_never_fail_with_a_500():
    org = build_org()
    ho2, ho3 = (HeadOfficeUserFactory(username=n, branch=org.ho) for n in ("ho2", "ho3"))
    published_policy(version=1)
    policy = services.policy_draft(actor=ho2)
    services.policy_submit(actor=ho2, policy=policy)
    barrier, outcomes = threading.Barrier(2), []

    def approve(user):
        try:
            barrier.wait()
            services.policy_approve(actor=user, policy=policy, now=NOW)
            outcomes.append("published")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(u,)) for u in (org.ho_user, ho3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "published"]
    assert list(Policy.objects.filter(status=PolicyStatus.PUBLISHED)) == [policy]
    assert Policy.objects.get(version=1).status == PolicyStatus.RETIRED


# --- pages ---

@pytest.fixture
def ho_page(org):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(org.ho_user)
    return client


def test_list_page_query_count_does_not_grow_with_the_versions(org, ho_page):
    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert ho_page.get("/segments/policies/").status_code == 200
        return len(ctx)

    PolicyFactory(status=PolicyStatus.RETIRED, created_by=org.ho2, submitted_by=org.ho2, approved_by=org.ho_user)
    few = queries()
    for _ in range(8):
        PolicyFactory(status=PolicyStatus.RETIRED, created_by=org.ho_user, submitted_by=org.ho_user,
                      approved_by=org.ho2)
    assert queries() == few


def test_list_page_stays_within_its_queries(org, ho_page, django_assert_max_num_queries):
    for _ in range(10):
        PolicyFactory(status=PolicyStatus.RETIRED, created_by=org.ho2, submitted_by=org.ho2, approved_by=org.ho_user)
    with django_assert_max_num_queries(9):  # session, user, count, page, the open version, …
        response = ho_page.get("/segments/policies/")
    assert len(response.context["page"].object_list) == 10


def test_detail_page_shows_every_group_in_plain_words(org, ho_page):
    policy = published_policy(version=1, created_by=org.ho2, approved_by=org.ho_user)
    html = ho_page.get(f"/segments/policies/{policy.pk}/").content.decode()
    for group in ("formula", "pyramid", "cards", "potential", "lifecycle", "exit", "service"):
        assert f'data-testid="policy-group-{group}"' in html
    for text in ("Weight of net contribution", "Important customers (%)", "19 %", "Gold from (yuan)",
                 "¥100,000.00", "Downgrade after (monthly runs below)", "Per branch", "Exit review: a non-performing loan",
                 "Important customer", "Visit, Meeting at the branch, Phone call, WeChat"):
        assert text in html, text


def test_edit_page_keeps_the_input_and_shows_errors_beside_the_fields(org, ho_page):
    policy = services.policy_draft(actor=org.ho_user)
    form = _form_data(policy)
    form.update({"pct_small": "40", "gold_from": "400000", "ordinary_contact_days": "-5", "note": "试一下"})
    response = ho_page.post(f"/segments/policies/{policy.pk}/edit/", form)
    assert response.status_code == 400
    html = response.content.decode()
    assert response.context["form"].errors["pct_small"] == [str(rules.PYRAMID_SUM % {"total": "90"})]
    assert 'data-field-error="pct_small"' in html and 'data-field-error="platinum_from"' in html
    assert 'data-field-error="ordinary_contact_days"' in html
    assert 'value="试一下"' in html and 'value="400000"' in html  # nothing typed is lost
    assert "Constraint" not in html  # the model's check constraints are the same rules, shown per field
    assert Policy.objects.get(pk=policy.pk).gold_from == rules.DEFAULT_CARD_THRESHOLDS[1]


def test_edit_page_saves_a_draft(org, ho_page):
    policy = services.policy_draft(actor=org.ho_user)
    form = _form_data(policy) | {"ranking_scope": "bank", "small_channels": ["sms", "email"], "note": "全行排名"}
    response = ho_page.post(f"/segments/policies/{policy.pk}/edit/", form)
    assert response.status_code == 302, response.content[:2000]
    policy.refresh_from_db()
    assert (policy.ranking_scope, policy.small_channels, policy.note) == ("bank", ["sms", "email"], "全行排名")


def test_approve_page_confirms_then_publishes(org, ho_page):
    published_policy(version=1)
    policy = pending(org)
    Policy.objects.filter(pk=policy.pk).update(gold_from=Decimal(120_000))
    confirm = ho_page.get(f"/segments/policies/{policy.pk}/approve/")
    assert confirm.status_code == 200
    assert ("Gold from (yuan)", "¥100,000.00", "¥120,000.00") in confirm.context["differences"]
    assert Policy.objects.get(pk=policy.pk).status == PolicyStatus.PENDING  # nothing happens before the POST
    assert ho_page.post(f"/segments/policies/{policy.pk}/approve/").status_code == 302
    assert Policy.objects.get(pk=policy.pk).status == PolicyStatus.PUBLISHED


def test_approve_page_refuses_the_author(org, ho_page):
    policy = pending(org, author=org.ho_user)
    response = ho_page.post(f"/segments/policies/{policy.pk}/approve/")
    assert response.status_code == 400
    assert str(rules.SELF_APPROVAL) in response.content.decode()
    assert Policy.objects.get(pk=policy.pk).status == PolicyStatus.PENDING


def test_send_back_page_shows_the_error_inline(org, ho_page):
    policy = pending(org)
    response = ho_page.post(f"/segments/policies/{policy.pk}/reject/", {"reason": ""})
    assert response.status_code == 400 and 'data-field-error="reason"' in response.content.decode()
    assert ho_page.post(f"/segments/policies/{policy.pk}/reject/", {"reason": "再看看"}).status_code == 302
    assert "再看看" in ho_page.get(f"/segments/policies/{policy.pk}/").content.decode()


def test_new_draft_while_one_is_open_shows_the_open_one(org, ho_page):
    policy = services.policy_draft(actor=org.ho2)
    response = ho_page.post("/segments/policies/new/")
    assert response.status_code == 302 and response.url == f"/segments/policies/{policy.pk}/"
    assert Policy.objects.count() == 1


def _form_data(policy) -> dict:
    data = {}
    for field in services.POLICY_FIELDS:
        value = getattr(policy, field)
        if isinstance(value, bool):
            if value:
                data[field] = "on"
        elif isinstance(value, list):
            data[field] = value
        else:
            data[field] = str(value)
    return data


# --- API ---

@pytest.fixture
def ho_api(org, client_for):
    client = client_for(org.ho_user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def test_api_bad_input_is_a_flat_field_error(org, ho_api):
    policy = services.policy_draft(actor=org.ho_user)
    r = ho_api.patch(f"{API}/{policy.pk}/", {"pct_important": "5", "gold_from": "0", "small_contact_days": -1,
                                             "typo": 1}, format="json")
    assert r.status_code == 400
    assert set(r.json()) == {"code", "detail", "errors"} and r.json()["code"] == "validation_error"
    assert set(r.json()["errors"]) >= {"typo"}
    r = ho_api.patch(f"{API}/{policy.pk}/", {"small_contact_days": 0}, format="json")
    assert r.json()["errors"] == {"small_contact_days": ["Ensure this value is greater than or equal to 1."]}
    r = ho_api.patch(f"{API}/{policy.pk}/", {"pct_important": "5", "gold_from": "0"}, format="json")
    errors = r.json()["errors"]
    assert set(errors) == {"pct_small", "gold_from"} and errors["pct_small"] == [str(rules.PYRAMID_SUM % {"total": "104"})]
    assert errors["gold_from"] == [str(rules.THRESHOLD_ABOVE_ZERO)]
    assert Policy.objects.get(pk=policy.pk).pct_important == 1


def test_api_workflow(org, ho_api, client_for):
    r = ho_api.post(f"{API}/", {"note": "v1", "ranking_scope": "bank"}, format="json")
    assert r.status_code == 201, r.content
    pk = r.json()["id"]
    assert r.json()["ranking_scope"] == "bank" and r.json()["created_by"] == "ho_user"
    assert ho_api.post(f"{API}/", {}, format="json").status_code == 409
    assert ho_api.patch(f"{API}/{pk}/", {"small_channels": ["sms"]}, format="json").json()["small_channels"] == ["sms"]
    assert ho_api.post(f"{API}/{pk}/submit/").json()["status"] == "pending"
    r = ho_api.post(f"{API}/{pk}/approve/")
    assert r.status_code == 400 and r.json()["errors"] == {"approved_by": [str(rules.SELF_APPROVAL)]}
    r = client_for(org.ho2).post(f"{API}/{pk}/approve/")
    assert r.status_code == 200 and r.json()["status"] == "published" and r.json()["approved_by"] == "ho2"
    assert ho_api.patch(f"{API}/{pk}/", {"note": "x"}, format="json").status_code == 409
    assert ho_api.post(f"{API}/{pk}/reject/", {"reason": "x"}, format="json").status_code == 409


def test_api_reject(org, ho_api):
    policy = pending(org)
    assert ho_api.post(f"{API}/{policy.pk}/reject/", {}, format="json").json()["errors"].keys() == {"reason"}
    r = ho_api.post(f"{API}/{policy.pk}/reject/", {"reason": "门槛"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "draft"
