from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentationConfig(AppConfig):
    name = "segmentation"
    verbose_name = _("Segmentation")

    def ready(self):
        from core import audit

        from .constants import SegmentationEvent

        audit.event_types(SegmentationEvent)
        from . import permissions  # noqa: F401  (registers the permission rules)

        self._extend_customers()

    @staticmethod
    def _extend_customers():
        """The customer page's tier panel, the tier changes in its profile history, and the tier filters of the
        customer list and API (customers.extensions: customers never imports segmentation)."""
        from customers import extensions

        from . import filters, selectors
        from .views import book

        extensions.customer_panel(book.tier_panel)
        extensions.customer_history(selectors.tier_history)
        for name, filter_ in filters.customer_filters().items():
            extensions.customer_filter(name, filter_)
