"""Complaint services on PostgreSQL: intake (bad input refused field by field, nothing written), the major
complaint, the SLA policy chosen, both clocks computed on the branch calendar, the workflow through the one
transition table with pauses, resumption, resolution, closing requirements, reopening and withdrawal, a message
that meets the first response only, conflicts on a stale version."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from complaints import services
from complaints.constants import (
    Action,
    Channel,
    ClockMode,
    ComplaintAudit,
    EscalationLevel,
    EventKind,
    Priority,
    SlaState,
    Status,
)
from complaints.models import Category, ClockRun, Complaint, ComplaintEvent, SlaPolicy
from core.errors import Conflict, NotPermitted, ValidationFailed
from core.models import AuditEvent
from tests.customers.builders import CustomerFactory
from tests.org.builders import build_org

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")
HOUR = dt.timedelta(hours=1)


def at(y, m, d, h=0, mi=0):
    return dt.datetime(y, m, d, h, mi, tzinfo=TZ)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def world(db):
    org = build_org()
    org.customer = CustomerFactory(branch=org.b1, rm=org.rm)
    org.category = Category.objects.get(code="card_fee")
    return org


def open_one(world, *, received=None, now=None, **kwargs):
    actor = kwargs.pop("actor", world.sup_b1)
    received = received or at(2026, 3, 2, 10)
    values = {"customer": world.customer, "channel": Channel.HOTLINE, "category": world.category,
              "description": "年费未经同意扣收", "received_at": received} | kwargs
    return services.complaint_open(actor=actor, now=now or received + HOUR, **values)


def test_a_complaint_for_a_customer_gets_both_clocks(world):
    c = open_one(world)
    assert c.number == f"TS20260302{c.pk:06d}" and c.branch == world.b1 and c.status == Status.NEW
    assert c.policy.is_default and c.priority == Priority.NORMAL and not c.major
    assert c.first_response_due == at(2026, 3, 3, 10)  # 24 hours of calendar time
    assert c.resolution_due == at(2026, 3, 16, 10)  # 70 working hours: ten working days
    assert c.regulatory_due_date == dt.date(2026, 3, 17)  # 15 calendar days, the day of receipt not counted
    assert c.sla_state == SlaState.ON_TRACK and not c.calendar_provisional
    assert list(ClockRun.objects.filter(complaint=c).values_list("started_at", "ended_at")) == [(at(2026, 3, 2, 10),
                                                                                                 None)]
    assert ComplaintEvent.objects.get(complaint=c).to_status == Status.NEW
    assert AuditEvent.objects.filter(type=ComplaintAudit.OPENED, object_id=str(c.pk)).exists()


def test_received_outside_working_time_starts_at_the_next_working_minute(world):
    c = open_one(world, received=at(2026, 3, 6, 18, 30))  # Friday evening
    assert c.resolution_due == at(2026, 3, 20, 17, 30)  # from Monday 09:00
    assert c.first_response_due == at(2026, 3, 7, 18, 30)  # calendar time runs over the weekend


def test_a_deadline_in_a_year_the_calendar_does_not_hold_is_provisional(world):
    c = open_one(world, received=at(2026, 12, 24, 10))
    assert c.calendar_provisional  # ten working days run into 2027
    assert c.regulatory_due_date == dt.date(2027, 1, 8)


@pytest.mark.parametrize("change, field", [
    ({"received_at": at(2026, 3, 2, 12)}, "received_at"),  # after now (11:00)
    ({"received_at": None}, "received_at"),
    ({"category": None}, "category"),
    ({"description": "  "}, "description"),
    ({"complainants": 0}, "complainants"),
    ({"customer": None, "complainant_name": "", "complainant_phone": "13800138000"}, "complainant_name"),
    ({"customer": None, "complainant_name": "匿名客户"}, "complainant_phone"),
])
def test_bad_intake_is_refused_field_by_field_and_nothing_is_written(world, change, field):
    values = {"customer": world.customer, "channel": Channel.HOTLINE, "category": world.category,
              "description": "年费未经同意扣收", "received_at": at(2026, 3, 2, 10), "branch": world.b1} | change
    with pytest.raises(ValidationFailed) as refused:
        services.complaint_open(actor=world.sup_b1, now=at(2026, 3, 2, 11), **values)
    assert field in refused.value.fields
    assert not Complaint.objects.exists() and not ClockRun.objects.exists()


def test_an_inactive_category_and_a_branch_outside_the_scope_are_refused(world):
    Category.objects.filter(pk=world.category.pk).update(active=False)
    world.category.refresh_from_db()
    with pytest.raises(ValidationFailed) as refused:
        open_one(world)
    assert list(refused.value.fields) == ["category"]
    with pytest.raises(ValidationFailed) as refused:
        open_one(world, customer=None, complainant_name="匿名", complainant_phone="13800138000", branch=world.b2,
                 category=Category.objects.get(code="card_fraud"))
    assert list(refused.value.fields) == ["branch"]
    with pytest.raises(NotPermitted):  # a customer the RM of another branch may not see
        open_one(world, actor=world.rm_b2, category=Category.objects.get(code="card_fraud"))
    assert not Complaint.objects.exists()


def test_twenty_people_at_the_counter_make_a_major_complaint(world):
    urgent = SlaPolicy.objects.create(name="紧急", priority=Priority.URGENT, first_response_seconds=2 * 3600,
                                      first_response_mode=ClockMode.CALENDAR, resolution_seconds=21 * 3600,
                                      resolution_mode=ClockMode.BUSINESS)
    c = open_one(world, channel=Channel.COUNTER, complainants=23)
    assert c.major and c.priority == Priority.URGENT and c.escalation_level == EscalationLevel.HEAD_OFFICE
    assert c.policy == urgent and c.first_response_due == at(2026, 3, 2, 12)


def test_the_most_specific_policy_wins_and_a_sub_category_inherits_its_category(world):
    card = SlaPolicy.objects.create(name="银行卡", category=Category.objects.get(code="card"),
                                    first_response_seconds=8 * 3600, first_response_mode=ClockMode.BUSINESS,
                                    resolution_seconds=35 * 3600, resolution_mode=ClockMode.BUSINESS)
    SlaPolicy.objects.create(name="停用", category=world.category, active=False, first_response_seconds=3600,
                             first_response_mode=ClockMode.BUSINESS, resolution_seconds=7200,
                             resolution_mode=ClockMode.BUSINESS)
    c = open_one(world)
    assert c.policy == card
    assert c.resolution_due == at(2026, 3, 9, 10)  # five working days
    assert c.first_response_due == at(2026, 3, 3, 11)  # eight working hours: 6 on Monday, 2 on Tuesday


def act(world, c, action, now, **kwargs):
    return services.complaint_act(actor=kwargs.pop("actor", world.sup_b1), complaint=c, action=action, now=now,
                                  **kwargs)


def test_the_workflow_keeps_the_clocks(world):
    c = open_one(world)
    c = act(world, c, Action.ACKNOWLEDGE, at(2026, 3, 2, 11))
    assert c.first_responded_at == at(2026, 3, 2, 11) and c.status == Status.ACKNOWLEDGED
    c = act(world, c, Action.INVESTIGATE, at(2026, 3, 2, 14))
    # waiting for the customer from Friday 16:00 to Monday 10:00 holds the service clock: 1.5 + 1 working hours
    c = act(world, c, Action.WAIT_CUSTOMER, at(2026, 3, 6, 16), note="请客户补充扣费短信截图")
    assert c.status == Status.PENDING_CUSTOMER and c.sla_state == SlaState.PAUSED and c.resolution_due is None
    assert c.running_since is None
    assert c.regulatory_due_date == dt.date(2026, 3, 17)  # the regulator's clock does not wait for the customer
    c = act(world, c, Action.RESUME, at(2026, 3, 9, 10))
    assert c.paused_seconds == int(2.5 * 3600)
    assert c.resolution_due == at(2026, 3, 16, 14)  # 16 March 10:00 + 2.5 working hours (lunch skipped)
    assert c.sla_state == SlaState.ON_TRACK
    c = act(world, c, Action.RESOLVE, at(2026, 3, 10, 15))
    assert c.status == Status.RESOLVED and c.sla_state == SlaState.MET and c.decided_on == dt.date(2026, 3, 10)
    assert c.resolution_due == at(2026, 3, 16, 14)  # shown as it was
    # closing needs the summary, the root cause, the remedy and the further remedies told: nothing changes
    with pytest.raises(ValidationFailed) as refused:
        act(world, c, Action.CLOSE, at(2026, 3, 11, 9), resolution_summary="已退还年费")
    assert set(refused.value.fields) == {"root_cause", "remedy", "remedies_told"}
    assert Complaint.objects.get(pk=c.pk).status == Status.RESOLVED
    c = act(world, c, Action.CLOSE, at(2026, 3, 11, 9), resolution_summary="已退还年费", root_cause="fee_rule",
            remedy="退还年费 200 元", remedies_told=True)
    assert c.status == Status.CLOSED and c.closed_at == at(2026, 3, 11, 9)
    # reopened: the clock resumes where it stood (not at zero, not failed)
    c = act(world, c, Action.REOPEN, at(2026, 3, 16, 9), note="客户表示未收到退款")
    assert c.status == Status.INVESTIGATING and c.sla_state == SlaState.ON_TRACK and c.resolved_at is None
    assert c.resolution_due > at(2026, 3, 16, 9)
    statuses = list(ComplaintEvent.objects.filter(complaint=c, kind=EventKind.TRANSITION).values_list(
        "from_status", "to_status"))
    assert statuses[-1] == (Status.CLOSED, Status.INVESTIGATING) and len(statuses) == 8


def test_a_transition_the_table_does_not_allow_and_a_stale_version_are_conflicts(world):
    c = open_one(world)
    with pytest.raises(Conflict, match="cannot be"):
        act(world, c, Action.CLOSE, at(2026, 3, 2, 12))
    stale = c.version
    act(world, c, Action.ACKNOWLEDGE, at(2026, 3, 2, 12), version=stale)
    with pytest.raises(Conflict, match="Someone else changed this complaint"):
        act(world, c, Action.INVESTIGATE, at(2026, 3, 2, 13), version=stale)
    assert Complaint.objects.get(pk=c.pk).status == Status.ACKNOWLEDGED


def test_a_withdrawal_ends_both_clocks(world):
    c = open_one(world)
    c = act(world, c, Action.WITHDRAW, at(2026, 3, 3, 10), note="客户来电撤诉")
    assert c.status == Status.WITHDRAWN and c.withdrawn_at == at(2026, 3, 3, 10) and c.sla_state == SlaState.MET
    assert not ClockRun.objects.filter(complaint=c, ended_at__isnull=True).exists()
    with pytest.raises(Conflict):
        act(world, c, Action.REOPEN, at(2026, 3, 4, 10))


def test_a_reply_meets_the_first_response_only(world):
    c = open_one(world)
    c = services.complaint_message(actor=world.sup_b1, complaint=c, text="您好，我行已收到您的投诉。", outgoing=True,
                                   now=at(2026, 3, 2, 15))
    assert c.first_responded_at == at(2026, 3, 2, 15) and c.status == Status.NEW
    assert c.resolution_due == at(2026, 3, 16, 10) and c.sla_state == SlaState.ON_TRACK
    services.complaint_note(actor=world.sup_b1, complaint=c, text="内部：核查扣费规则", now=at(2026, 3, 2, 16))
    kinds = list(ComplaintEvent.objects.filter(complaint=c).values_list("kind", flat=True))
    assert kinds == [EventKind.TRANSITION, EventKind.MESSAGE, EventKind.NOTE]
    with pytest.raises(ValidationFailed):
        services.complaint_message(actor=world.sup_b1, complaint=c, text=" ", outgoing=True, now=at(2026, 3, 2, 17))


def test_the_first_response_breaches_after_24_hours_without_a_reply(world):
    c = open_one(world)
    c = services.complaint_note(actor=world.sup_b1, complaint=c, text="稍后回复", now=at(2026, 3, 3, 11)).complaint
    services.refresh_clocks(c, now=at(2026, 3, 3, 11))
    assert c.sla_state == SlaState.BREACHED


def test_others_cannot_act_on_a_complaint_outside_their_scope(world):
    c = open_one(world)
    for who in (world.sup_b2, world.rm_b2):
        with pytest.raises(NotPermitted):
            act(world, c, Action.ACKNOWLEDGE, at(2026, 3, 2, 12), actor=who)
    # in scope but not theirs to work on: the customer's RM reads it; an officer works on what they handle
    for who in (world.rm, world.co_b1):
        with pytest.raises(NotPermitted):
            act(world, c, Action.ACKNOWLEDGE, at(2026, 3, 2, 12), actor=who)
    services.complaint_assign(actor=world.co_b1, complaint=c, handler=world.co_b1, now=at(2026, 3, 2, 11))
    assert act(world, c, Action.ACKNOWLEDGE, at(2026, 3, 2, 12), actor=world.co_b1).status == Status.ACKNOWLEDGED


# ---- the regulator's clock: extensions and holds ----

@pytest.fixture
def ho2(world):
    from tests.org.builders import HeadOfficeUserFactory

    return HeadOfficeUserFactory(username="ho2", branch=world.ho)


def test_extensions_need_a_reason_the_right_approver_and_the_complainant_told(world, ho2):
    from complaints.models import Extension

    c = open_one(world, customer=CustomerFactory(branch=world.b1a, rm=world.rm))  # an outlet under B1
    services.complaint_assign(actor=world.sup_b1, complaint=c, handler=world.co_b1, now=at(2026, 3, 2, 11))
    with pytest.raises(ValidationFailed) as refused:
        services.extension_request(actor=world.co_b1, complaint=c, reason=" ", now=at(2026, 3, 10, 10))
    assert list(refused.value.fields) == ["reason"]
    first = services.extension_request(actor=world.co_b1, complaint=c, reason="需调取监控录像",
                                       now=at(2026, 3, 10, 10))
    with pytest.raises(Conflict):  # one request at a time
        services.extension_request(actor=world.co_b1, complaint=c, reason="再次申请", now=at(2026, 3, 10, 11))
    for who in (world.co_b1, world.sup_b2, world.rm):  # the requester, another branch's supervisor, an RM
        with pytest.raises(NotPermitted):
            services.extension_decide(actor=who, extension=first, approve=True, complainant_told=True,
                                      now=at(2026, 3, 10, 12))
    with pytest.raises(ValidationFailed) as refused:
        services.extension_decide(actor=world.sup_b1, extension=first, approve=True, now=at(2026, 3, 10, 12))
    assert list(refused.value.fields) == ["complainant_told"]
    services.extension_decide(actor=world.sup_b1, extension=first, approve=True, complainant_told=True,
                              now=at(2026, 3, 10, 12))
    c.refresh_from_db()
    assert c.extensions == 1 and c.regulatory_due_date == dt.date(2026, 4, 1)  # 30 days
    second = services.extension_request(actor=world.co_b1, complaint=c, reason="需外部鉴定", now=at(2026, 3, 20, 10))
    with pytest.raises(NotPermitted):  # B1's supervisor is the superior of the outlet... but not of B1 itself
        services.extension_decide(actor=world.sup_b2, extension=second, approve=True, complainant_told=True,
                                  now=at(2026, 3, 20, 12))
    services.extension_decide(actor=world.sup_b1, extension=second, approve=True, complainant_told=True,
                              now=at(2026, 3, 20, 12))  # B1 is the superior branch of the outlet B1A
    c.refresh_from_db()
    assert c.extensions == 2 and c.regulatory_due_date == dt.date(2026, 5, 6)  # 60 days, past May 1–5
    with pytest.raises(Conflict, match="twice"):
        services.extension_request(actor=world.co_b1, complaint=c, reason="第三次", now=at(2026, 4, 1, 10))
    assert Extension.objects.filter(complaint=c, state=Extension.State.APPROVED).count() == 2


def test_the_second_extension_of_a_branch_complaint_needs_the_superior_branch(world, ho2):
    c = open_one(world)  # handled by B1 itself
    services.complaint_assign(actor=world.sup_b1, complaint=c, handler=world.co_b1, now=at(2026, 3, 2, 11))
    first = services.extension_request(actor=world.co_b1, complaint=c, reason="复杂", now=at(2026, 3, 10, 10))
    services.extension_decide(actor=world.sup_b1, extension=first, approve=True, complainant_told=True,
                              now=at(2026, 3, 10, 11))
    second = services.extension_request(actor=world.sup_b1, complaint=c, reason="特别复杂", now=at(2026, 3, 20, 10))
    with pytest.raises(NotPermitted):
        services.extension_decide(actor=world.sup_b1, extension=second, approve=True, complainant_told=True,
                                  now=at(2026, 3, 20, 11))
    refused = services.extension_decide(actor=world.ho_user, extension=second, approve=False,
                                        now=at(2026, 3, 20, 11), note="理由不充分")
    c.refresh_from_db()
    assert refused.state == "refused" and c.extensions == 1
    again = services.extension_request(actor=world.co_b1, complaint=c, reason="补充鉴定材料", now=at(2026, 3, 21, 10))
    services.extension_decide(actor=ho2, extension=again, approve=True, complainant_told=True, now=at(2026, 3, 21, 11))
    c.refresh_from_db()
    assert c.extensions == 2


def test_only_appraisal_or_mediation_holds_the_regulators_clock(world):
    c = open_one(world)
    c = act(world, c, Action.INVESTIGATE, at(2026, 3, 2, 12))
    c = act(world, c, Action.WAIT_CUSTOMER, at(2026, 3, 3, 10))
    assert c.regulatory_due_date == dt.date(2026, 3, 17)  # waiting for the customer: no change
    with pytest.raises(ValidationFailed):
        services.regulatory_hold(actor=world.sup_b1, complaint=c, held=True, now=at(2026, 3, 4, 10))
    c = services.regulatory_hold(actor=world.sup_b1, complaint=c, held=True, now=at(2026, 3, 4, 10),
                                 note="提交司法鉴定，已告知客户")
    with pytest.raises(Conflict):
        services.regulatory_hold(actor=world.sup_b1, complaint=c, held=True, now=at(2026, 3, 5, 10), note="重复")
    c = services.regulatory_hold(actor=world.sup_b1, complaint=c, held=False, now=at(2026, 3, 11, 10),
                                 note="鉴定结束")
    assert c.regulatory_paused_days == 7 and c.regulatory_due_date == dt.date(2026, 3, 24)


# ---- satisfaction ----

def resolved(world):
    c = open_one(world)
    c = act(world, c, Action.INVESTIGATE, at(2026, 3, 2, 12))
    return act(world, c, Action.RESOLVE, at(2026, 3, 3, 10))


def test_satisfaction_is_asked_after_resolution(world):
    c = open_one(world)
    with pytest.raises(Conflict):
        services.satisfaction_record(actor=world.sup_b1, complaint=c, score=5, now=at(2026, 3, 2, 12))
    c = resolved(world)
    for bad in (0, 6, "5"):
        with pytest.raises(ValidationFailed):
            services.satisfaction_record(actor=world.sup_b1, complaint=c, score=bad, now=at(2026, 3, 4, 10))
    c = services.satisfaction_record(actor=world.sup_b1, complaint=c, score=4, now=at(2026, 3, 4, 10), note="满意")
    assert c.satisfaction == 4 and c.status == Status.RESOLVED


def test_a_dissatisfied_answer_reopens_or_gives_the_rm_a_task(world):
    from customers.models import FollowUpTask

    c = resolved(world)
    c = services.satisfaction_record(actor=world.sup_b1, complaint=c, score=2, now=at(2026, 3, 4, 10))
    assert c.status == Status.INVESTIGATING and c.satisfaction == 2
    c = act(world, c, Action.RESOLVE, at(2026, 3, 5, 10))
    services.satisfaction_record(actor=world.sup_b1, complaint=c, score=1, now=at(2026, 3, 6, 10), follow_up="task")
    task = FollowUpTask.objects.get(customer=world.customer, key__isnull=True)  # besides the satisfaction call
    assert task.assignee == world.rm and task.due_date == dt.date(2026, 3, 9) and c.number in task.title
    assert Complaint.objects.get(pk=c.pk).status == Status.RESOLVED


# ---- the satisfaction call ----

def satisfaction_calls(c):
    from customers.models import FollowUpTask

    return list(FollowUpTask.objects.filter(key=f"complaint-satisfaction:{c.pk}"))


def test_resolving_gives_the_rm_a_satisfaction_call_once_per_complaint(world, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    settings.CARE_SATISFACTION_CALL_DAYS = 1
    c = open_one(world)
    c = act(world, c, Action.INVESTIGATE, at(2026, 3, 2, 12))
    assert satisfaction_calls(c) == []
    c = act(world, c, Action.RESOLVE, at(2026, 3, 3, 23, 30))  # decided on the 3rd, Shanghai time
    [call] = satisfaction_calls(c)
    assert call.customer == world.customer and call.assignee == world.rm and call.status == "open"
    assert call.due_date == dt.date(2026, 3, 4) and c.number in call.title and world.customer.name in call.title
    note = ComplaintEvent.objects.get(complaint=c, kind=EventKind.CHANGED)
    assert note.data == {"satisfaction_call": call.pk} and "2026-03-04" in note.text
    # closed, reopened and resolved again: the first call stands, no second one
    c = act(world, c, Action.CLOSE, at(2026, 3, 5, 9), resolution_summary="已退还年费", root_cause="fee_rule",
            remedy="退还年费 200 元", remedies_told=True)
    c = act(world, c, Action.REOPEN, at(2026, 3, 6, 9))
    c = act(world, c, Action.RESOLVE, at(2026, 3, 9, 10))
    assert satisfaction_calls(c) == [call]
    assert ComplaintEvent.objects.filter(complaint=c, kind=EventKind.CHANGED).count() == 1


def test_recording_the_satisfaction_closes_the_call(world, settings):
    settings.LANGUAGE_CODE = "en"
    c = resolved(world)
    [call] = satisfaction_calls(c)
    assert call.status == "open"
    services.satisfaction_record(actor=world.sup_b1, complaint=c, score=4, now=at(2026, 3, 4, 15))
    call.refresh_from_db()
    assert call.status == "done" and call.outcome == "Satisfaction recorded in the complaint: 4/5"
    assert call.completed_at == at(2026, 3, 4, 15)


def test_the_call_is_due_the_configured_days_later_and_a_re_check_has_its_own(world, settings):
    settings.CARE_SATISFACTION_CALL_DAYS = 3
    c = resolved(world)  # decided on 3 March
    assert satisfaction_calls(c)[0].due_date == dt.date(2026, 3, 6)
    review = services.review_open(actor=world.sup_b1, complaint=c, requested_at=at(2026, 3, 10, 10),
                                  now=at(2026, 3, 10, 10))
    review = act(world, review, Action.INVESTIGATE, at(2026, 3, 10, 11), actor=world.ho_user)
    review = act(world, review, Action.RESOLVE, at(2026, 3, 12, 10), actor=world.ho_user)
    assert satisfaction_calls(review)[0].due_date == dt.date(2026, 3, 15)


def test_no_call_without_a_customer_or_without_an_rm(world):
    from customers.models import FollowUpTask

    anonymous = open_one(world, customer=None, complainant_name="匿名客户", complainant_phone="13800138000",
                         branch=world.b1)
    anonymous = act(world, anonymous, Action.INVESTIGATE, at(2026, 3, 2, 12))
    act(world, anonymous, Action.RESOLVE, at(2026, 3, 3, 10))
    no_rm = open_one(world, customer=CustomerFactory(branch=world.b1, rm=None))
    no_rm = act(world, no_rm, Action.INVESTIGATE, at(2026, 3, 2, 12))
    act(world, no_rm, Action.RESOLVE, at(2026, 3, 3, 10))
    assert not FollowUpTask.objects.exists()
    assert not ComplaintEvent.objects.filter(kind=EventKind.CHANGED).exists()


def test_a_resolution_refused_leaves_no_call(world):
    c = act(world, open_one(world), Action.INVESTIGATE, at(2026, 3, 2, 12))
    stale = c.version - 1
    with pytest.raises(Conflict):
        act(world, c, Action.RESOLVE, at(2026, 3, 3, 10), version=stale)
    assert satisfaction_calls(c) == []


# ---- a changed calendar ----

def test_a_calendar_edit_moves_open_deadlines_and_keeps_the_time_used(world):
    from org.constants import CalendarKind
    from org.services import calendar_day_set

    c = open_one(world)  # Monday 2 March 10:00, due Monday 16 March 10:00
    other = open_one(world, customer=CustomerFactory(branch=world.b2, rm=world.rm_b2), actor=world.ho_user)
    done = act(world, open_one(world), Action.INVESTIGATE, at(2026, 3, 2, 12))
    done = act(world, done, Action.RESOLVE, at(2026, 3, 2, 15))
    # head office closes B1 on Wednesday 11 March (after the complaint has run 5 working days)
    calendar_day_set(branch=world.b1, day=dt.date(2026, 3, 11), kind=CalendarKind.HOLIDAY, name="分行系统升级",
                     actor=world.ho_user)
    assert services.complaints_recompute(branch_id=world.b1.pk, now=at(2026, 3, 9, 10)) == 1
    c.refresh_from_db()
    other.refresh_from_db()
    assert c.resolution_due == at(2026, 3, 17, 10)  # one working day later
    assert other.resolution_due == at(2026, 3, 16, 10)  # B2's calendar did not change
    assert services.complaints_recompute(branch_id=None, now=at(2026, 3, 9, 10)) == 2  # resolved ones left alone
    done.refresh_from_db()
    assert done.sla_state == SlaState.MET


def test_a_calendar_change_is_announced_after_it_commits(world, django_capture_on_commit_callbacks):
    from org.constants import CalendarKind
    from org.services import calendar_day_set, working_hours_set
    from org.signals import calendar_changed

    heard = []

    def listen(sender, branch_id=None, **kwargs):
        heard.append(branch_id)

    calendar_changed.disconnect(dispatch_uid="complaints.calendar_changed")  # only this test's listener
    calendar_changed.connect(listen)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            calendar_day_set(branch=world.b1, day=dt.date(2026, 3, 11), kind=CalendarKind.HOLIDAY,
                             actor=world.ho_user)
            working_hours_set(branch=world.b2, week=[[["09:00", "17:00"]]] * 5 + [[], []], actor=world.ho_user)
        assert heard == []  # nothing before the commit
        for callback in callbacks:
            callback()
        assert heard == [world.b1.pk, world.b2.pk]
    finally:
        calendar_changed.disconnect(listen)
        from complaints import receivers

        calendar_changed.connect(receivers.calendar_changed, dispatch_uid="complaints.calendar_changed")


# ---- a re-check ----

def test_a_re_check_is_a_linked_complaint_of_the_superior_branch_with_its_own_30_days(world):
    outlet_customer = CustomerFactory(branch=world.b1a, rm=world.rm)
    c = open_one(world, customer=outlet_customer)
    with pytest.raises(Conflict):  # not decided yet
        services.review_open(actor=world.sup_b1, complaint=c, requested_at=at(2026, 3, 3), now=at(2026, 3, 3, 10))
    c = act(world, c, Action.INVESTIGATE, at(2026, 3, 2, 12))
    c = act(world, c, Action.RESOLVE, at(2026, 3, 5, 10))  # decided on 5 March
    with pytest.raises(ValidationFailed) as refused:
        services.review_open(actor=world.sup_b1, complaint=c, requested_at=at(2026, 4, 6, 9), now=at(2026, 4, 6, 10))
    assert list(refused.value.fields) == ["requested_at"]  # 32 days after the decision
    review = services.review_open(actor=world.sup_b1, complaint=c, requested_at=at(2026, 4, 3, 9),
                                  now=at(2026, 4, 3, 10), description="客户对处理结果不服，申请核查")
    assert review.review_of == c and review.branch == world.b1 and review.number.startswith("HC20260403")
    assert review.regulatory_due_date == dt.date(2026, 5, 6)  # 30 days: 3 May is in the May holiday, then 4–5
    assert review.status == Status.NEW and review.customer == outlet_customer
    with pytest.raises(Conflict):
        services.review_open(actor=world.sup_b1, complaint=c, requested_at=at(2026, 4, 3, 9), now=at(2026, 4, 3, 11))
    assert ComplaintEvent.objects.filter(complaint=c, kind=EventKind.CHANGED).exists()
