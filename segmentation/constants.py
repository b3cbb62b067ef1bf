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
