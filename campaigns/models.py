"""Care and campaigns: the messages to customers (each once per occasion: a unique key), every attempt to send
one, the care keys that make each RM reminder task exactly once, and the runs of the scheduled jobs."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from segmentation.constants import ValueTier

from .constants import CampaignStatus, Exclusion, MessageChannel, Outcome


class Message(models.Model):
    """A message to a customer, queued in the transaction that decides it and sent by the dispatcher. ``key`` is
    unique: at most one message per customer per occasion (``birthday:2026:123``), however often a job runs."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Failed")
        UNKNOWN = "unknown", _("Unknown: to reconcile")

    class Purpose(models.TextChoices):
        BIRTHDAY = "birthday", _("Birthday greeting")
        FESTIVAL = "festival", _("Festival greeting")
        CAMPAIGN = "campaign", _("Campaign")
        CARE = "care", _("Care")
        SERVICE = "service", _("Service notice")

    key = models.CharField(max_length=120, unique=True)
    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="messages")
    channel = models.CharField(_("channel"), max_length=10, choices=MessageChannel.choices)
    purpose = models.CharField(_("purpose"), max_length=10, choices=Purpose.choices)
    marketing = models.BooleanField(_("marketing"), default=True)  # service notices ignore a marketing opt-out
    recipient = models.CharField(_("recipient"), max_length=254)
    body = models.TextField(_("text"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    due_at = models.DateTimeField(_("due"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    cancel_reason = models.CharField(_("why cancelled"), max_length=100, blank=True)
    provider_ref = models.CharField(_("provider reference"), max_length=100, blank=True)
    campaign = models.ForeignKey("campaigns.Campaign", verbose_name=_("campaign"), null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="messages")

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [
            models.Index(fields=["due_at", "id"], name="message_due", condition=Q(status="queued")),
            models.Index(fields=["customer", "sent_at"], name="message_customer_sent"),
            models.Index(fields=["status"], name="message_sending", condition=Q(status="sending")),
        ]

    def __str__(self):
        return self.key


class Attempt(models.Model):
    """One attempt to send a message: written (pending) before the provider is called, its outcome after."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Handed to the provider")
        ACCEPTED = "accepted", _("Accepted")
        FAILED = "failed", _("Failed")
        UNKNOWN = "unknown", _("Unknown")

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attempt_rows")
    at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    detail = models.CharField(max_length=500, blank=True)


class CareKey(models.Model):
    """An occasion an RM reminder task was created for (``birthday-reminder:2026:123``): inserted ``ON CONFLICT DO
    NOTHING`` in the transaction that creates the task, so each task is created once however often a job runs."""

    key = models.CharField(max_length=120, unique=True)
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    task = models.ForeignKey("customers.FollowUpTask", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)


class JobRun(models.Model):
    """One run of a scheduled job for a day (by beat or by hand with ``run_job``), with what it did."""

    job = models.CharField(_("job"), max_length=40)
    day = models.DateField(_("day"))
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    counts = models.JSONField(_("counts"), default=dict)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="+")

    class Meta:
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["job", "-started_at"], name="jobrun_job")]


class BankDate(models.Model):
    """A date the bank greets its customers on besides the festivals (e.g. the bank's anniversary)."""

    code = models.SlugField(_("code"), max_length=30)
    name = models.CharField(_("name"), max_length=60)
    day = models.DateField(_("date"))
    active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("bank date")
        verbose_name_plural = _("bank dates")
        ordering = ["day"]
        constraints = [models.UniqueConstraint(fields=["code", "day"], name="bankdate_once")]

    def __str__(self):
        return f"{self.name} {self.day:%Y-%m-%d}"


class Campaign(models.Model):
    """A targeted campaign: an audience from a saved filter (snapshotted at launch), an optional control group,
    channels and a message in both languages, a schedule; draft → scheduled (approved) → running → completed, or
    cancelled. A product offer (``product_risk``) reaches only customers it suits."""

    name = models.CharField(_("name"), max_length=100)
    goal = models.CharField(_("goal"), max_length=300, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=CampaignStatus.choices,
                              default=CampaignStatus.DRAFT)
    branch = models.ForeignKey("org.Branch", verbose_name=_("branch"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+")  # whose campaign; null: head office's
    audience = models.JSONField(_("audience filter"), default=dict, blank=True)
    control_share = models.DecimalField(_("control group share"), max_digits=3, decimal_places=2, default=0)
    channels = models.JSONField(_("channels"), default=list)
    template_zh = models.TextField(_("message (Chinese)"), blank=True)
    template_en = models.TextField(_("message (English)"), blank=True)
    product_risk = models.CharField(_("product risk"), max_length=2, blank=True)  # a product offer: its risk level
    product_type = models.CharField(_("product type"), max_length=20, blank=True)  # what counts as a conversion
    starts_at = models.DateTimeField(_("starts"), null=True, blank=True)
    attribution_days = models.PositiveSmallIntegerField(_("attribution window (days)"), default=30)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("approved by"), null=True,
                                    blank=True, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    launched_at = models.DateTimeField(_("launched"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    counts = models.JSONField(_("counts"), default=dict, blank=True)  # the snapshot's: targeted, control, excluded
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(control_share__gte=0, control_share__lte=0.5),
                                              name="campaign_control_share")]

    def __str__(self):
        return self.name


class Member(models.Model):
    """A customer of a campaign's audience as snapshotted at launch: in the control group, left out (why), or
    contacted; the outcome the RM recorded and the conversion found in core banking's holdings."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="members", db_index=False)
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    value_tier = models.CharField(max_length=10, blank=True, choices=ValueTier.choices)  # the tier at launch
    excluded = models.CharField(max_length=12, choices=Exclusion.choices, blank=True)
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "customer"], name="member_once")]
