from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplaintsConfig(AppConfig):
    name = "complaints"
    verbose_name = _("Complaints")

    def ready(self):
        from core import audit

        from .constants import ComplaintAudit

        audit.event_types(ComplaintAudit)

        from org.signals import calendar_changed

        from . import notifications, permissions, receivers  # noqa: F401 (outbox handler, permission rules)

        calendar_changed.connect(receivers.calendar_changed, dispatch_uid="complaints.calendar_changed")

        from customers import extensions

        from . import views

        extensions.customer_panel(views.customer_panel)
