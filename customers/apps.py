from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self):
        from . import (
            notifications,  # noqa: F401  (registers the outbox handlers)
            permissions,  # noqa: F401  (registers the permission rules)
        )
