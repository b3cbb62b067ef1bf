"""Complaints: the taxonomy, SLA policies, the complaint with its two clocks, its timeline, the service clock's runs,
extensions of the regulator's clock and the monitor's alerts (each at most once)."""

from django.conf import settings
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .constants import (
    AlertKind,
    Channel,
    ClockMode,
    ClockTarget,
    EscalationLevel,
    EventKind,
    Priority,
    SlaState,
    Status,
)


class Category(models.Model):
    """The complaint taxonomy head office edits: categories and, under each, sub-categories (two levels)."""

    parent = models.ForeignKey("self", verbose_name=_("category"), null=True, blank=True, on_delete=models.PROTECT,
                               related_name="children")
    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=100)
    active = models.BooleanField(_("in use"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("complaint category")
        verbose_name_plural = _("complaint categories")
        ordering = ["position", "code"]

    def __str__(self):
        return f"{self.parent.name} / {self.name}" if self.parent_id else self.name


class SlaPolicy(models.Model):
    """The bank's service targets for the complaints it matches (blank criteria match anything; the most specific
    active policy wins, complaints.rules.choose_policy); the default policy matches every complaint."""

    name = models.CharField(_("name"), max_length=100)
    active = models.BooleanField(_("active"), default=True)
    is_default = models.BooleanField(_("default policy"), default=False)
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices, blank=True)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, blank=True)
    category = models.ForeignKey(Category, verbose_name=_("category"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    first_response_seconds = models.PositiveIntegerField(_("first response within (seconds)"))
    first_response_mode = models.CharField(_("first response counted in"), max_length=10, choices=ClockMode.choices)
    resolution_seconds = models.PositiveIntegerField(_("resolution within (seconds)"))
    resolution_mode = models.CharField(_("resolution counted in"), max_length=10, choices=ClockMode.choices)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="slapolicy_one_default"),
            models.CheckConstraint(condition=Q(first_response_seconds__gt=0, resolution_seconds__gt=0,
                                               first_response_seconds__lte=models.F("resolution_seconds")),
                                   name="slapolicy_targets"),
            models.CheckConstraint(condition=Q(is_default=False) | Q(active=True), name="slapolicy_default_active"),
        ]

    def __str__(self):
        return self.name


class Complaint(models.Model):
    """A complaint and its two clocks. The service clock's state is kept here (due times, state, time held) for
    the queue, the board and the monitor; ``ClockRun`` rows are the intervals it ran, from which it is computed."""

    number = models.CharField(_("number"), max_length=20, unique=True)
    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="complaints")
    complainant_name = models.CharField(_("complainant"), max_length=100, blank=True)
    complainant_phone = models.CharField(_("complainant's phone"), max_length=20, blank=True)
    complainant_email = models.EmailField(_("complainant's email"), blank=True)
    branch = models.ForeignKey("org.Branch", verbose_name=_("branch"), on_delete=models.PROTECT,
                               related_name="complaints")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    category = models.ForeignKey(Category, verbose_name=_("category"), on_delete=models.PROTECT,
                                 related_name="complaints")
    description = models.TextField(_("description"), validators=[MaxLengthValidator(4000)])
    received_at = models.DateTimeField(_("received"))
    created_at = models.DateTimeField(_("entered"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("entered by"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    complainants = models.PositiveIntegerField(_("number of complainants"), default=1,
                                               validators=[MinValueValidator(1)])
    major = models.BooleanField(_("major complaint"), default=False)
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.NEW)
    handler = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("handler"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="complaints_handled")
    escalation_level = models.PositiveSmallIntegerField(_("escalation level"), choices=EscalationLevel.choices,
                                                        default=EscalationLevel.HANDLER)
    policy = models.ForeignKey(SlaPolicy, verbose_name=_("SLA policy"), on_delete=models.PROTECT, related_name="+")

    # the service clock
    running_since = models.DateTimeField(null=True, blank=True, editable=False)
    first_responded_at = models.DateTimeField(_("first responded"), null=True, blank=True)
    first_response_due = models.DateTimeField(_("first response due"), null=True, blank=True)
    resolution_due = models.DateTimeField(_("resolution due"), null=True, blank=True)
    sla_state = models.CharField(_("SLA state"), max_length=10, choices=SlaState.choices, default=SlaState.ON_TRACK)
    paused_seconds = models.PositiveIntegerField(_("time held (working seconds)"), default=0)
    calendar_provisional = models.BooleanField(_("provisional calendar"), default=False)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)

    # the regulator's clock
    regulatory_due_date = models.DateField(_("regulatory deadline"))
    extensions = models.PositiveSmallIntegerField(_("extensions"), default=0, validators=[MaxValueValidator(2)])
    regulatory_paused_days = models.PositiveSmallIntegerField(_("days held by appraisal or mediation"), default=0)
    regulatory_held_since = models.DateField(_("held by appraisal or mediation since"), null=True, blank=True)
    decided_on = models.DateField(_("decided on"), null=True, blank=True)

    # closing and satisfaction
    resolution_summary = models.TextField(_("resolution summary"), blank=True,
                                          validators=[MaxLengthValidator(4000)])
    root_cause = models.CharField(_("root cause"), max_length=30, blank=True)
    remedy = models.TextField(_("remedy"), blank=True, validators=[MaxLengthValidator(2000)])
    remedies_told = models.BooleanField(_("told of further remedies"), default=False)
    satisfaction = models.PositiveSmallIntegerField(_("satisfaction"), null=True, blank=True,
                                                    validators=[MinValueValidator(1), MaxValueValidator(5)])
    satisfaction_note = models.CharField(_("satisfaction comment"), max_length=500, blank=True)
    review_of = models.ForeignKey("self", verbose_name=_("re-check of"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="reviews")
    version = models.PositiveIntegerField(default=1, editable=False)  # every change adds one (conflicts: 409)

    class Meta:
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["branch", "status"], name="complaint_branch_status"),
            models.Index(fields=["handler", "status"], name="complaint_handler_status"),
            models.Index(fields=["resolution_due", "id"], name="complaint_open_due", condition=Q(
                status__in=["new", "acknowledged", "investigating", "pending_customer"])),
            models.Index(fields=["received_at"], name="complaint_received"),
            models.Index(fields=["resolution_due", "id"], name="complaint_due"),  # the queue over every status
        ]
        constraints = [
            models.CheckConstraint(condition=Q(customer__isnull=False) | ~Q(complainant_name=""),
                                   name="complaint_has_complainant"),
            models.CheckConstraint(condition=Q(satisfaction__isnull=True) | Q(satisfaction__gte=1, satisfaction__lte=5),
                                   name="complaint_satisfaction_1_5"),
            models.CheckConstraint(condition=Q(extensions__lte=2), name="complaint_two_extensions"),
        ]

    def __str__(self):
        return self.number


class ClockRun(models.Model):
    """An interval the service clock ran (an open one while it runs): a pause closes it, resuming opens another;
    a changed policy or priority keeps them, so the time used stays used."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="clock_runs")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [models.UniqueConstraint(fields=["complaint"], condition=Q(ended_at__isnull=True),
                                               name="clockrun_one_open")]


class ComplaintEvent(models.Model):
    """One line of a complaint's timeline: who, when, what (a transition from → to, a note kept inside the bank, a
    message exchanged with the customer, a clock event, a warning, an escalation step, an extension, satisfaction)."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(_("time"))
    kind = models.CharField(_("kind"), max_length=12, choices=EventKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    api_key_id = models.CharField(max_length=150, blank=True)  # an integration client's key, when it acted
    from_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    text = models.TextField(_("text"), blank=True, validators=[MaxLengthValidator(4000)])
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["complaint", "at"], name="complaintevent_timeline")]


class Extension(models.Model):
    """An extension of the regulator's deadline (Art. 18): to 30 days with a supervisor's approval, then a further
    30 with the superior branch's or head office's, each with its reason and the record that the complainant was
    told."""

    class State(models.TextChoices):
        REQUESTED = "requested", _("Awaiting approval")
        APPROVED = "approved", _("Approved")
        REFUSED = "refused", _("Refused")

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="extension_requests")
    number = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(2)])
    reason = models.TextField(_("reason"), validators=[MaxLengthValidator(2000)])
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    requested_by_key = models.CharField(max_length=150, blank=True)  # an integration client's key, when it asked
    requested_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.REQUESTED)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    complainant_told = models.BooleanField(_("complainant told"), default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["complaint", "number"], condition=~Q(state="refused"),
                                               name="extension_once")]


class Alert(models.Model):
    """A warning or an escalation step the monitor made: one row per complaint, kind, target and level, so each
    happens exactly once however often or on how many workers the monitor runs."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=12, choices=AlertKind.choices)
    target = models.CharField(max_length=16, choices=ClockTarget.choices)
    level = models.PositiveSmallIntegerField()
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["complaint", "kind", "target", "level"], name="alert_once")]
