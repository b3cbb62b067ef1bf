from django.db import models
from django.utils.translation import gettext_lazy as _


class Festival(models.TextChoices):
    """Festivals the bank greets customers at; lunar ones are computed per year (campaigns.rules.festivals)."""

    NEW_YEAR = "new_year", _("New Year's Day")
    SPRING = "spring", _("Spring Festival")
    LANTERN = "lantern", _("Lantern Festival")
    DRAGON_BOAT = "dragon_boat", _("Dragon Boat Festival")
    MID_AUTUMN = "mid_autumn", _("Mid-Autumn Festival")
    NATIONAL_DAY = "national_day", _("National Day")


class MessageChannel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")
    APP = "app", _("In-app")
    RM_TASK = "rm_task", _("RM task")


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Approved, scheduled")
    RUNNING = "running", _("Running")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


class Outcome(models.TextChoices):
    """What an RM records of a campaign contact (converted is also found from core banking's holdings)."""

    REACHED = "reached", _("Reached")
    NOT_REACHED = "not_reached", _("Not reached")
    INTERESTED = "interested", _("Interested")
    CONVERTED = "converted", _("Converted")
    DECLINED = "declined", _("Declined")


class Exclusion(models.TextChoices):
    """Why an audience member gets no message (counted, never messaged)."""

    CONTROL = "control", _("Control group")
    UNSUITABLE = "unsuitable", _("Product not suitable")
    NO_CHANNEL = "no_channel", _("No consented channel")


class CampaignAudit(models.TextChoices):
    """Audit event types of campaigns (registered in apps.ready)."""

    SAVED = "campaign_saved", _("Campaign saved")
    APPROVED = "campaign_approved", _("Campaign approved")
    CANCELLED = "campaign_cancelled", _("Campaign cancelled")
