from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self):
        from core import audit

        from . import permissions  # noqa: F401 (registers the permission rules)
        from .constants import CampaignAudit

        audit.event_types(CampaignAudit)
