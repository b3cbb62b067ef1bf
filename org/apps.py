from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrgConfig(AppConfig):
    name = "org"
    verbose_name = _("Organisation")

    def ready(self):
        from . import permissions  # noqa: F401  (registers the permission rules)
        from .api import schema  # noqa: F401  (registers the OpenAPI auth extension)
