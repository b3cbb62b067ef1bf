from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrgConfig(AppConfig):
    name = "org"
    verbose_name = _("Organisation")

    def ready(self):
        from core import audit

        from . import permissions  # noqa: F401  (registers the permission rules)
        from .api import schema  # noqa: F401  (registers the OpenAPI auth extension)
        from .constants import AuditAction

        audit.event_types(AuditAction)
