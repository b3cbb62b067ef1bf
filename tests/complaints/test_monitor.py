"""The SLA monitor: warnings at 75 %, 90 % and a breach, the escalation ladder beyond 100 %, 125 % and 150 %, each
recorded, notified and applied once however often it runs and on two connections at once; warnings wait for
working time; a deactivated policy stops its warnings; the mail goes to the rung of the ladder."""

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import connection
from django.utils import translation

from complaints import monitor, notifications, selectors, services
from complaints.constants import Action, AlertKind, Channel, ClockTarget, EscalationLevel, EventKind, SlaState
from complaints.models import Alert, Complaint, ComplaintEvent, SlaPolicy
from core.models import OutboxMessage
from org.rules import epoch
from tests.complaints.builders import seeded
from tests.customers.builders import CustomerFactory
from tests.org.builders import build_org

TZ = ZoneInfo("Asia/Shanghai")
RECEIVED = dt.datetime(2026, 3, 2, 10, tzinfo=TZ)  # a Monday
HOURS = 3600
RESOLUTION = 70 * HOURS


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def build(handler=True):
    org = build_org()
    customer = CustomerFactory(branch=org.b1, rm=org.rm)
    complaint = services.complaint_open(actor=org.sup_b1, customer=customer, channel=Channel.HOTLINE,
                                        category=seeded(), description="年费争议",
                                        received_at=RECEIVED, now=RECEIVED + dt.timedelta(minutes=5))
    complaint = services.complaint_act(actor=org.sup_b1, complaint=complaint, action=Action.ACKNOWLEDGE,
                                       now=RECEIVED + dt.timedelta(minutes=30))
    if handler:
        Complaint.objects.filter(pk=complaint.pk).update(handler=org.rm)
    org.complaint = complaint
    _calendar, org.clock = selectors.business_clock(org.b1, RECEIVED)
    return org


def at_share(org, share: float) -> dt.datetime:
    """The instant the resolution clock reaches ``share`` of its target (in working time)."""
    return dt.datetime.fromtimestamp(int(org.clock.after(epoch(RECEIVED), int(RESOLUTION * share))), TZ)


def alerts(complaint):
    return sorted(Alert.objects.filter(complaint=complaint).values_list("kind", "target", "level"))


@pytest.mark.django_db
def test_warnings_then_the_ladder_each_once():
    org = build()
    c = org.complaint
    assert monitor.sla_monitor(now=at_share(org, 0.5))["alerts"] == 0
    monitor.sla_monitor(now=at_share(org, 0.8))
    assert alerts(c) == [(AlertKind.WARNING, ClockTarget.RESOLUTION, 0)]
    assert Complaint.objects.get(pk=c.pk).sla_state == SlaState.AT_RISK
    monitor.sla_monitor(now=at_share(org, 0.95))
    monitor.sla_monitor(now=at_share(org, 0.95))  # again: nothing new
    assert alerts(c) == [(AlertKind.WARNING, ClockTarget.RESOLUTION, 0), (AlertKind.WARNING, ClockTarget.RESOLUTION, 1)]
    late = at_share(org, 1.3)
    result = monitor.sla_monitor(now=late)
    assert result["escalated"] == 1
    c.refresh_from_db()
    assert c.escalation_level == EscalationLevel.SUPERIOR_BRANCH and c.sla_state == SlaState.BREACHED
    assert (AlertKind.ESCALATION, ClockTarget.RESOLUTION, 1) in alerts(c)
    assert (AlertKind.ESCALATION, ClockTarget.RESOLUTION, 3) not in alerts(c)
    monitor.sla_monitor(now=at_share(org, 1.6))
    c.refresh_from_db()
    assert c.escalation_level == EscalationLevel.HEAD_OFFICE
    kinds = list(ComplaintEvent.objects.filter(complaint=c, kind__in=[EventKind.WARNING, EventKind.ESCALATION])
                 .values_list("kind", "data__level"))
    assert kinds.count((EventKind.ESCALATION, 3)) == 1 and len(kinds) == len(alerts(c)) == 6
    assert OutboxMessage.objects.filter(topic=monitor.ALERT_TOPIC).count() == 6


@pytest.mark.django_db
def test_warnings_wait_for_working_time_and_a_paused_clock_does_not_run():
    org = build()
    evening = dt.datetime.combine(at_share(org, 0.8).date(), dt.time(20), tzinfo=TZ)
    monitor.sla_monitor(now=evening)
    assert alerts(org.complaint) == []  # 80 % reached, but at 20:00: the warning waits
    morning = dt.datetime.combine(evening.date() + dt.timedelta(days=1), dt.time(9, 1), tzinfo=TZ)
    monitor.sla_monitor(now=morning)
    assert alerts(org.complaint) == [(AlertKind.WARNING, ClockTarget.RESOLUTION, 0)]
    # waiting for the customer: the clock stops counting, so nothing more comes however late it gets
    c = services.complaint_act(actor=org.sup_b1, complaint=org.complaint, action=Action.INVESTIGATE, now=morning)
    services.complaint_act(actor=org.sup_b1, complaint=c, action=Action.WAIT_CUSTOMER, now=morning)
    monitor.sla_monitor(now=morning + dt.timedelta(days=30))
    assert alerts(org.complaint) == [(AlertKind.WARNING, ClockTarget.RESOLUTION, 0)]


@pytest.mark.django_db
def test_a_deactivated_policy_stops_its_warnings():
    org = build()
    SlaPolicy.objects.filter(pk=org.complaint.policy_id).update(is_default=False, active=False)
    monitor.sla_monitor(now=at_share(org, 1.6))
    assert alerts(org.complaint) == []


@pytest.mark.django_db
def test_the_first_response_has_its_own_warnings():
    org = build_org()
    customer = CustomerFactory(branch=org.b1, rm=org.rm)
    c = services.complaint_open(actor=org.sup_b1, customer=customer, channel=Channel.HOTLINE,
                                category=seeded(), description="年费争议",
                                received_at=RECEIVED, now=RECEIVED)
    monitor.sla_monitor(now=RECEIVED + dt.timedelta(hours=25))  # Tuesday 11:00: 24 calendar hours passed
    assert [(k, t, lvl) for k, t, lvl in alerts(c) if t == ClockTarget.FIRST_RESPONSE] == [
        (AlertKind.WARNING, ClockTarget.FIRST_RESPONSE, 0), (AlertKind.WARNING, ClockTarget.FIRST_RESPONSE, 1),
        (AlertKind.WARNING, ClockTarget.FIRST_RESPONSE, monitor.BREACH)]
    assert Complaint.objects.get(pk=c.pk).sla_state == SlaState.BREACHED


@pytest.mark.django_db
def test_the_mail_goes_to_the_rung_of_the_ladder():
    org = build()
    for user, address in ((org.rm, "rm@bank.example"), (org.sup_b1, "sup@bank.example"),
                          (org.ho_user, "ho@bank.example")):
        user.email, user.language = address, "en" if user == org.ho_user else ""
        user.save(update_fields=["email", "language"])
    monitor.sla_monitor(now=at_share(org, 1.6))
    sent, subjects = {}, {}
    for message in OutboxMessage.objects.filter(topic=monitor.ALERT_TOPIC).order_by("id"):
        mail.outbox.clear()
        notifications.alert_send(message.payload)
        key = (message.payload["kind"], message.payload["level"])
        sent[key], subjects[key] = [m.to[0] for m in mail.outbox], [m.subject for m in mail.outbox]
    assert sent[(AlertKind.WARNING, 0)] == ["rm@bank.example"]
    assert sent[(AlertKind.ESCALATION, 1)] == ["sup@bank.example"]
    assert sent[(AlertKind.ESCALATION, 3)] == ["ho@bank.example"]
    # each in the recipient's language: head office reads English, the branch the default Chinese
    assert subjects[(AlertKind.ESCALATION, 3)][0].endswith("escalated to you: Resolution overdue")
    assert "已升级至您处理" in subjects[(AlertKind.ESCALATION, 1)][0]


@pytest.mark.django_db(transaction=True)
def test_two_monitors_at_once_record_each_alert_once():
    org = build()
    late = at_share(org, 1.6)
    barrier, results, errors = threading.Barrier(2), [], []

    def run():
        try:
            barrier.wait()
            results.append(monitor.sla_monitor(now=late))
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(r["alerts"] for r in results) == len(alerts(org.complaint)) == 6  # 3 warnings, 3 steps
    assert ComplaintEvent.objects.filter(complaint=org.complaint, kind__in=[EventKind.WARNING,
                                                                            EventKind.ESCALATION]).count() == 6
    assert OutboxMessage.objects.filter(topic=monitor.ALERT_TOPIC).count() == 6
    assert Complaint.objects.get(pk=org.complaint.pk).escalation_level == EscalationLevel.HEAD_OFFICE
