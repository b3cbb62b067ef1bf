from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    NEW = "new", _("New")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    INVESTIGATING = "investigating", _("Investigating")
    PENDING_CUSTOMER = "pending_customer", _("Waiting for the customer")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Action(models.TextChoices):
    """What a user does to a complaint; complaints.rules.TRANSITIONS says from which status to which."""

    ACKNOWLEDGE = "acknowledge", _("Acknowledge")
    INVESTIGATE = "investigate", _("Start investigating")
    WAIT_CUSTOMER = "wait_customer", _("Wait for the customer")
    RESUME = "resume", _("Resume")
    RESOLVE = "resolve", _("Resolve")
    CLOSE = "close", _("Close")
    REOPEN = "reopen", _("Reopen")
    WITHDRAW = "withdraw", _("Withdrawn by the customer")


class Channel(models.TextChoices):
    COUNTER = "counter", _("Counter")
    HOTLINE = "hotline", _("Phone hotline")
    ONLINE = "online", _("Online / app")
    EMAIL = "email", _("Email")
    LETTER = "letter", _("Letter")
    REGULATOR = "regulator", _("Regulator referral")
    SOCIAL = "social", _("Social media")


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class ClockMode(models.TextChoices):
    """How an SLA target is counted."""

    CALENDAR = "calendar", _("Calendar time")
    BUSINESS = "business", _("Working time")


class SlaState(models.TextChoices):
    ON_TRACK = "on_track", _("On track")
    AT_RISK = "at_risk", _("At risk")
    BREACHED = "breached", _("Breached")
    PAUSED = "paused", _("Paused")
    MET = "met", _("Met")


class EscalationLevel(models.IntegerChoices):
    HANDLER = 0, _("Handler")
    SUPERVISOR = 1, _("Branch supervisor")
    SUPERIOR_BRANCH = 2, _("Superior branch")
    HEAD_OFFICE = 3, _("Head office")


class EventKind(models.TextChoices):
    TRANSITION = "transition", _("Status change")
    NOTE = "note", _("Internal note")
    MESSAGE = "message", _("Message to or from the customer")
    ASSIGNED = "assigned", _("Handler assigned")
    CHANGED = "changed", _("Details changed")
    CLOCK = "clock", _("Clock")
    WARNING = "warning", _("SLA warning")
    ESCALATION = "escalation", _("Escalation")
    EXTENSION = "extension", _("Extension of the regulatory deadline")
    SATISFACTION = "satisfaction", _("Satisfaction")


class AlertKind(models.TextChoices):
    WARNING = "warning", _("SLA warning")
    ESCALATION = "escalation", _("Escalation")


class ClockTarget(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First response")
    RESOLUTION = "resolution", _("Resolution")


class ComplaintAudit(models.TextChoices):
    """Audit event types of complaints (registered in apps.ready)."""

    OPENED = "complaint_opened", _("Complaint recorded")
    STATUS_CHANGED = "complaint_status_changed", _("Complaint status changed")
    EXTENSION_DECIDED = "complaint_extension_decided", _("Extension of a complaint's deadline decided")
    SATISFACTION = "complaint_satisfaction", _("Complaint satisfaction recorded")
    ASSIGNED = "complaint_assigned", _("Complaint handler assigned")
    CHANGED = "complaint_changed", _("Complaint details changed")
    POLICY_SAVED = "complaint_sla_policy_saved", _("SLA policy saved")
    CATEGORY_SAVED = "complaint_category_saved", _("Complaint category saved")
