"""Complaint rules as pure functions, no database: the transition table, closing, the major complaint, the
regulator's clock with extensions and pauses, the service clock over business time (pauses over nights and
holidays, a policy change that keeps the time used, reopening, a reply that is not a resolution), warnings, the
escalation ladder, the choice of a policy; hypothesis properties."""

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from complaints import rules
from complaints.constants import Action, Channel, ClockMode, EscalationLevel, Priority, SlaState, Status
from org.rules import SHANGHAI, BusinessClock, WorkingCalendar, chinese_calendar_entries, epoch

ENTRIES, COVERED = chinese_calendar_entries()
CAL = WorkingCalendar(entries=ENTRIES, covered=COVERED)
CLOCK = BusinessClock(CAL, dt.date(2025, 1, 1), dt.date(2027, 12, 31))
HOUR = 3600
B, C = ClockMode.BUSINESS, ClockMode.CALENDAR


def at(y, m, d, h=0, mi=0):
    return epoch(dt.datetime(y, m, d, h, mi, tzinfo=SHANGHAI))


def local(seconds):
    return dt.datetime.fromtimestamp(int(seconds), SHANGHAI)


# ---- workflow ----

def test_the_workflow_is_one_table():
    assert rules.next_status(Status.NEW, Action.ACKNOWLEDGE) == Status.ACKNOWLEDGED
    assert rules.next_status(Status.INVESTIGATING, Action.WAIT_CUSTOMER) == Status.PENDING_CUSTOMER
    assert rules.next_status(Status.PENDING_CUSTOMER, Action.RESUME) == Status.INVESTIGATING
    assert rules.next_status(Status.RESOLVED, Action.CLOSE) == Status.CLOSED
    assert rules.next_status(Status.CLOSED, Action.REOPEN) == Status.INVESTIGATING
    assert rules.next_status(Status.NEW, Action.CLOSE) is None  # never closed unresolved
    assert rules.next_status(Status.WITHDRAWN, Action.REOPEN) is None  # a withdrawal ends it
    assert rules.next_status(Status.CLOSED, Action.WITHDRAW) is None
    assert set(rules.allowed_actions(Status.PENDING_CUSTOMER)) == {Action.RESUME, Action.RESOLVE, Action.WITHDRAW}
    # every status but withdrawn has a way on; every action is used
    assert {s for s, _a in rules.TRANSITIONS} == set(Status) - {Status.WITHDRAWN}
    assert {a for _s, a in rules.TRANSITIONS} == set(Action)


def test_closing_needs_the_summary_root_cause_remedy_and_the_remedies_told():
    assert rules.close_problems(resolution_summary=" ", root_cause="", remedy="退还手续费", remedies_told=False) == [
        rules.SUMMARY, rules.ROOT_CAUSE, rules.REMEDIES_TOLD]
    assert rules.close_problems(resolution_summary="已核实", root_cause="fee", remedy="退费", remedies_told=True) == []


def test_twenty_people_at_the_counter_make_a_major_complaint():
    assert rules.is_major(20, Channel.COUNTER) and not rules.is_major(19, Channel.COUNTER)
    assert not rules.is_major(50, Channel.HOTLINE)
    assert rules.initial_escalation(True) == EscalationLevel.HEAD_OFFICE
    assert rules.initial_escalation(False) == EscalationLevel.HANDLER


# ---- the regulator's clock ----

def test_the_regulatory_deadline_and_its_extensions():
    received = dt.date(2026, 3, 2)
    assert rules.regulatory_due_date(received, CAL) == dt.date(2026, 3, 17)
    assert rules.regulatory_due_date(received, CAL, extensions=1) == dt.date(2026, 4, 1)
    assert rules.regulatory_due_date(received, CAL, extensions=2) == dt.date(2026, 5, 6)  # May 1–5 off
    assert rules.regulatory_due_date(received, CAL, extensions=2, roll_forward=False) == dt.date(2026, 5, 1)
    assert rules.regulatory_due_date(received, CAL, extensions=5) == rules.regulatory_due_date(received, CAL,
                                                                                               extensions=2)
    # an external appraisal of 10 days holds it; waiting for the customer does not (no parameter for that)
    assert rules.regulatory_due_date(received, CAL, paused_days=10) == dt.date(2026, 3, 27)


def test_a_re_check_is_requested_within_thirty_days_of_the_decision():
    decided = dt.date(2026, 3, 17)
    assert rules.review_window_open(decided, dt.date(2026, 4, 16))
    assert not rules.review_window_open(decided, dt.date(2026, 4, 17))
    assert not rules.review_window_open(decided, dt.date(2026, 3, 16))


def test_the_satisfaction_call_is_due_days_after_the_decision_never_before():
    decided = dt.date(2026, 3, 31)
    assert rules.satisfaction_call_due(decided, 1) == dt.date(2026, 4, 1)
    assert rules.satisfaction_call_due(decided, 0) == decided
    assert rules.satisfaction_call_due(decided, -3) == decided


# ---- the service clock ----

RESOLUTION = 70 * HOUR  # ten working days on the default calendar


def test_a_running_clock_counts_working_time_only():
    received = at(2026, 3, 6, 18)  # Friday evening: starts Monday 09:00
    c = rules.service_clock([(received, None)], target=RESOLUTION, mode=B, clock=CLOCK, now=at(2026, 3, 9, 12))
    assert c.used == 3 * HOUR and c.state == SlaState.ON_TRACK
    assert local(c.due) == local(at(2026, 3, 20, 17, 30))
    first = rules.service_clock([(received, None)], target=24 * HOUR, mode=C, clock=CLOCK, now=at(2026, 3, 7, 6))
    assert first.used == 12 * HOUR and first.state == SlaState.ON_TRACK and local(first.due) == local(
        at(2026, 3, 7, 18))  # calendar time: the night and the weekend count


def test_at_risk_from_three_quarters_and_breached_after_the_due_instant():
    start = at(2026, 3, 2, 9)
    due = CLOCK.after(start, RESOLUTION)
    at_risk = rules.service_clock([(start, None)], target=RESOLUTION, mode=B, clock=CLOCK,
                                  now=int(CLOCK.after(start, int(RESOLUTION * 0.75))))
    assert at_risk.state == SlaState.AT_RISK and rules.warnings_reached(at_risk.share) == [0]
    on_due = rules.service_clock([(start, None)], target=RESOLUTION, mode=B, clock=CLOCK, now=int(due))
    assert on_due.state == SlaState.AT_RISK and on_due.remaining == 0
    late = rules.service_clock([(start, None)], target=RESOLUTION, mode=B, clock=CLOCK, now=at(2026, 3, 16, 9, 1))
    assert late.state == SlaState.BREACHED and late.used == RESOLUTION + 60


def test_a_pause_over_a_holiday_holds_the_clock_and_moves_the_due_time_by_the_time_held():
    received = at(2026, 9, 24, 10)  # Thursday before the Mid-Autumn break
    runs = [(received, at(2026, 9, 24, 16)), (at(2026, 9, 28, 11), None)]  # pending customer over the holiday
    paused = rules.service_clock(runs[:1], target=RESOLUTION, mode=B, clock=CLOCK, now=at(2026, 9, 26, 12))
    assert paused.state == SlaState.PAUSED and paused.due is None and paused.used == 4.5 * HOUR
    resumed = rules.service_clock(runs, target=RESOLUTION, mode=B, clock=CLOCK, now=at(2026, 9, 28, 12))
    unpaused_due = CLOCK.after(received, RESOLUTION)
    held = CLOCK.business_seconds(at(2026, 9, 24, 16), at(2026, 9, 28, 11))
    assert CLOCK.business_seconds(unpaused_due, resumed.due) == held == 3.5 * HOUR


def test_a_changed_policy_keeps_the_time_used_and_a_reopened_complaint_resumes_where_it_stood():
    runs = [(at(2026, 3, 2, 9), at(2026, 3, 4, 9))]  # resolved after two working days (14 h)
    before = rules.service_clock(runs, target=RESOLUTION, mode=B, clock=CLOCK, now=at(2026, 3, 10, 9))
    assert before.state == SlaState.PAUSED and before.used == 14 * HOUR
    # a stricter policy (5 working days) keeps the 14 hours used
    stricter = rules.service_clock(runs + [(at(2026, 3, 10, 9), None)], target=35 * HOUR, mode=B, clock=CLOCK,
                                   now=at(2026, 3, 10, 9))
    assert stricter.used == 14 * HOUR and local(stricter.due) == local(at(2026, 3, 12, 17, 30))
    # reopened a week later: the clock resumes at 14 h, not at 0 and not failed
    reopened = rules.service_clock(runs + [(at(2026, 3, 11, 9), None)], target=RESOLUTION, mode=B, clock=CLOCK,
                                   now=at(2026, 3, 11, 10))
    assert reopened.used == 15 * HOUR and reopened.state == SlaState.ON_TRACK


def test_met_within_the_target_stays_met_and_met_late_stays_breached():
    start = at(2026, 3, 2, 9)
    met = rules.service_clock([(start, None)], target=24 * HOUR, mode=C, clock=CLOCK, now=at(2026, 3, 20),
                              met_at=at(2026, 3, 2, 15))
    assert met.state == SlaState.MET and met.used == 6 * HOUR
    late = rules.service_clock([(start, None)], target=24 * HOUR, mode=C, clock=CLOCK, now=at(2026, 3, 20),
                               met_at=at(2026, 3, 3, 10))
    assert late.state == SlaState.BREACHED
    # a reply meets the first response only: resolution keeps running (the caller gives met_at per target)
    resolution = rules.service_clock([(start, None)], target=RESOLUTION, mode=B, clock=CLOCK, now=at(2026, 3, 2, 15))
    assert resolution.state == SlaState.ON_TRACK


def test_the_escalation_ladder():
    levels = [rules.escalation_level(s) for s in (0.5, 0.99, 1.0, 1.01, 1.25, 1.26, 1.5, 1.51, 3.0)]
    assert levels == [0, 0, 0, 1, 1, 2, 2, 3, 3]  # the due instant itself is still in time
    assert rules.escalation_level(0.1, major=True) == EscalationLevel.HEAD_OFFICE
    assert rules.warnings_reached(0.74) == [] and rules.warnings_reached(0.95) == [0, 1]
    assert rules.shares([10, 5], [0, 10]).tolist() == [1.0, 0.5]


# ---- SLA policies ----

def test_the_most_specific_active_policy_wins():
    P = rules.PolicyKey
    policies = [P(1), P(2, priority=Priority.URGENT), P(3, channel=Channel.REGULATOR),
                P(4, priority=Priority.URGENT, channel=Channel.REGULATOR), P(5, category=10), P(6, category=11),
                P(7, category=10, priority=Priority.HIGH)]
    choose = rules.choose_policy
    assert choose(policies, priority=Priority.NORMAL, channel=Channel.EMAIL, category=None) == 1
    assert choose(policies, priority=Priority.URGENT, channel=Channel.EMAIL, category=None) == 2
    assert choose(policies, priority=Priority.URGENT, channel=Channel.REGULATOR, category=None) == 4
    # a sub-category (11) of category 10: its own policy beats its parent's
    assert choose(policies, priority=Priority.NORMAL, channel=Channel.EMAIL, category=11, category_parent=10) == 6
    assert choose(policies, priority=Priority.NORMAL, channel=Channel.EMAIL, category=12, category_parent=10) == 5
    assert choose(policies, priority=Priority.HIGH, channel=Channel.EMAIL, category=12, category_parent=10) == 7
    # the same specificity: the newest
    assert choose([P(8, priority=Priority.HIGH), P(9, channel=Channel.EMAIL)], priority=Priority.HIGH,
                  channel=Channel.EMAIL, category=None) == 9
    assert choose([P(2, priority=Priority.URGENT)], priority=Priority.LOW, channel=Channel.EMAIL, category=None) is None


def test_policy_checks():
    assert rules.policy_problems(first_response_seconds=24 * HOUR, resolution_seconds=RESOLUTION) == {}
    assert rules.policy_problems(first_response_seconds=100 * HOUR, resolution_seconds=RESOLUTION) == {
        "first_response": rules.FIRST_AFTER_RESOLUTION}
    assert rules.policy_problems(first_response_seconds=0, resolution_seconds=-1) == {
        "first_response": rules.TARGET_NOT_POSITIVE, "resolution": rules.TARGET_NOT_POSITIVE}


# ---- properties ----

instants = st.integers(at(2025, 1, 1), at(2026, 12, 1))


@settings(max_examples=200, deadline=None)
@given(instants, instants, st.sampled_from([B, C]), st.integers(HOUR, 200 * HOUR))
def test_a_later_receipt_never_gets_an_earlier_due_time(a, b, mode, target):
    a, b = min(a, b), max(a, b)
    now = b
    da = rules.service_clock([(a, None)], target=target, mode=mode, clock=CLOCK, now=a).due
    db = rules.service_clock([(b, None)], target=target, mode=mode, clock=CLOCK, now=now).due
    assert da <= db


@settings(max_examples=200, deadline=None)
@given(instants, st.integers(HOUR, 100 * HOUR), st.integers(0, 30 * 24 * HOUR), st.integers(60, 20 * 24 * HOUR))
def test_a_pause_of_p_business_seconds_moves_the_due_time_by_exactly_p(received, target, pause_after, pause_for):
    paused_from = received + pause_after
    paused_to = paused_from + pause_for
    plain = rules.service_clock([(received, None)], target=target, mode=B, clock=CLOCK, now=received)
    if plain.due <= paused_from:
        return  # due before the pause: nothing to move
    resumed = rules.service_clock([(received, paused_from), (paused_to, None)], target=target, mode=B,
                                  clock=CLOCK, now=paused_to)
    held = CLOCK.business_seconds(paused_from, paused_to)
    assert CLOCK.business_seconds(plain.due, resumed.due) == held
