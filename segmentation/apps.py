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
