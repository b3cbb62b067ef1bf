from django.db import models
from django.utils.translation import gettext_lazy as _


class ValueTier(models.TextChoices):
    """The customer pyramid by contribution (DOMAIN.md §3), best first; important + secondary = key customers."""

    IMPORTANT = "important", _("Important customer")
    SECONDARY = "secondary", _("Secondary customer")
    ORDINARY = "ordinary", _("Ordinary customer")
    SMALL = "small", _("Small customer")


class CardTier(models.TextChoices):
    """Card / service tiers by monthly daily-average AUM, lowest first."""

    STANDARD = "standard", _("Standard")
    GOLD = "gold", _("Gold")
    PLATINUM = "platinum", _("Platinum")
    BLACK_GOLD = "black_gold", _("Black gold")
    PRIVATE = "private", _("Private banking")


class RankingScope(models.TextChoices):
    BRANCH = "branch", _("Per branch")
    BANK = "bank", _("Bank-wide")


class PolicyStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PENDING = "pending", _("Awaiting approval")
    PUBLISHED = "published", _("Published")
    RETIRED = "retired", _("Retired")


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class RunTrigger(models.TextChoices):
    SCHEDULE = "schedule", _("Monthly schedule")
    MANUAL = "manual", _("Started by head office")
    API = "api", _("Started through the API")


class SegmentationEvent(models.TextChoices):
    """Audit event types of this app (registered in apps.ready)."""

    POLICY_CREATED = "segmentation.policy_created", _("Segmentation policy drafted")
    POLICY_CHANGED = "segmentation.policy_changed", _("Segmentation policy changed")
    POLICY_SUBMITTED = "segmentation.policy_submitted", _("Segmentation policy submitted for approval")
    POLICY_REJECTED = "segmentation.policy_rejected", _("Segmentation policy sent back")
    POLICY_PUBLISHED = "segmentation.policy_published", _("Segmentation policy published")
    RUN_STARTED = "segmentation.run_started", _("Segmentation run started")
    OVERRIDE_SET = "segmentation.override_set", _("Tier override set")
    OVERRIDE_ENDED = "segmentation.override_ended", _("Tier override ended")
    OVERRIDE_EXPIRED = "segmentation.override_expired", _("Tier override expired")
