"""The SLA monitor on two real Celery worker processes at once, twice: every warning and escalation step of an
overdue complaint is recorded, put on its timeline and queued for mail exactly once."""

import datetime as dt

import pytest
from django.utils import timezone

from complaints import services
from complaints.constants import Action, AlertKind, Channel, EscalationLevel, EventKind
from complaints.models import Alert, Complaint, ComplaintEvent
from complaints.monitor import ALERT_TOPIC
from complaints.tasks import sla_monitor
from core.models import OutboxMessage
from tests.complaints.builders import seeded
from tests.customers.builders import CustomerFactory
from tests.org.builders import build_org


@pytest.mark.django_db(transaction=True)
def test_two_workers_running_the_monitor_at_once_alert_once(two_celery_workers):
    org = build_org()
    received = timezone.now() - dt.timedelta(days=40)  # ten working days long gone: beyond 150 %
    complaint = services.complaint_open(
        actor=org.sup_b1, customer=CustomerFactory(branch=org.b1, rm=org.rm), channel=Channel.HOTLINE,
        category=seeded(), description="年费争议", received_at=received, now=received)
    services.complaint_act(actor=org.sup_b1, complaint=complaint, action=Action.ACKNOWLEDGE, now=received)
    for _round in range(2):  # twice, each time on both workers at once
        results = [sla_monitor.apply_async(queue=two_celery_workers) for _ in range(2)]
        [r.get(timeout=90) for r in results]
    alerts = list(Alert.objects.filter(complaint=complaint).values_list("kind", "level"))
    assert len(alerts) == len(set(alerts)) >= 4  # the breach and three steps (the 75/90 % warnings in working time)
    assert {(AlertKind.ESCALATION, level) for level in (1, 2, 3)} <= set(alerts)
    timeline = ComplaintEvent.objects.filter(complaint=complaint, kind__in=[EventKind.WARNING, EventKind.ESCALATION])
    assert timeline.count() == len(alerts)
    assert OutboxMessage.objects.filter(topic=ALERT_TOPIC).count() == len(alerts)
    assert Complaint.objects.get(pk=complaint.pk).escalation_level == EscalationLevel.HEAD_OFFICE
