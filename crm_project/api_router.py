"""One DRF router for every app's API."""

from rest_framework.routers import DefaultRouter

from campaigns import api as campaigns_api
from complaints import api as complaints_api
from customers.api.views import (
    CustomerViewSet,
    FollowUpTaskViewSet,
    HoldingViewSet,
    InteractionViewSet,
    SnapshotViewSet,
)
from org.api import calendar as calendar_api
from segmentation import api as segmentation_api

router = DefaultRouter()
router.register("customers", CustomerViewSet, basename="customer")
router.register("snapshots", SnapshotViewSet, basename="snapshot")
router.register("holdings", HoldingViewSet, basename="holding")
router.register("interactions", InteractionViewSet, basename="interaction")
router.register("tasks", FollowUpTaskViewSet, basename="task")
calendar_api.register(router)
segmentation_api.register(router)
complaints_api.register(router)
campaigns_api.register(router)
