"""Mail about complaints, through the outbox (core.outbox): the monitor's warnings go to the handler (the branch's
supervisors when nobody handles it yet), each escalation step to the next rung of the ladder — the branch's
supervisors, the superior branch's supervisors, head office. In each recipient's language; sent after the monitor's
transaction commits, never twice for one alert."""

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core import outbox
from org.constants import Role
from org.models import User

from .constants import AlertKind, ClockTarget, EscalationLevel
from .models import Complaint
from .monitor import ALERT_TOPIC, BREACH


def _supervisors(branch) -> list[User]:
    if branch is None:
        return []
    return list(User.objects.filter(role=Role.SUPERVISOR, branch=branch, is_active=True))


def recipients(complaint: Complaint, kind: str, level: int) -> list[User]:
    """Who hears of an alert (see the module)."""
    if kind == AlertKind.WARNING:
        return [complaint.handler] if complaint.handler_id else _supervisors(complaint.branch)
    if level == EscalationLevel.SUPERVISOR:
        return _supervisors(complaint.branch)
    if level == EscalationLevel.SUPERIOR_BRANCH:
        return _supervisors(complaint.branch.parent) or _supervisors(complaint.branch)
    return list(User.objects.filter(role=Role.HEAD_OFFICE, is_active=True))


@outbox.handler(ALERT_TOPIC)
def alert_send(payload: dict) -> None:
    complaint = Complaint.objects.select_related("branch__parent", "handler").filter(pk=payload["complaint"]).first()
    if complaint is None:
        return
    for user in recipients(complaint, payload["kind"], payload["level"]):
        if not user.email:
            continue
        with translation.override(user.language or settings.LANGUAGE_CODE):
            subject, body = _mail(complaint, payload)
        send_mail(subject, body, None, [user.email])


def _mail(complaint: Complaint, payload: dict) -> tuple[str, str]:
    target = ClockTarget(payload["target"]).label
    names = {"number": complaint.number, "target": target}
    if payload["kind"] == AlertKind.ESCALATION:
        subject = _("Complaint %(number)s escalated to you: %(target)s overdue") % names
    elif payload["level"] == BREACH:
        subject = _("Complaint %(number)s: %(target)s overdue") % names
    else:
        subject = _("Complaint %(number)s: %(target)s due soon") % names
    due = complaint.resolution_due if payload["target"] == ClockTarget.RESOLUTION else complaint.first_response_due
    body = _("Complaint %(number)s (%(branch)s). %(target)s due: %(due)s.") % {
        **names, "branch": complaint.branch.name,
        "due": timezone.localtime(due).strftime("%Y-%m-%d %H:%M") if due else "—"}
    return subject, body
