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
