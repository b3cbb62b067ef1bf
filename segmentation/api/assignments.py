"""Segmentation API: assignments (see api/__init__.py) — the tiers in force and their history, for staff within
their scope and API keys with ``segments:read``; overrides for supervisors and head office."""

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.errors import ValidationFailed
from customers import selectors as customer_selectors
from customers.constants import LifecycleStage
from customers.models import Customer
from org.constants import Scope
from org.permissions import can

from .. import selectors, services
from ..constants import CardTier, ValueTier
from ..filters import AssignmentFilter
from ..models import Assignment, Override

ASSIGNMENT_FIELDS = [
    "id", "run", "as_of", "customer", "cif", "branch", "rm", "score", "rank_pct", "aum_avg", "value_tier",
    "value_tier_computed", "previous_value_tier", "card_tier", "card_tier_computed", "card_tier_held",
    "previous_card_tier", "months_below", "potential", "lifecycle", "exit_review", "overridden", "reasons",
]


def blank_choice(choices, help_text):
    """A read-only tier that may be empty (unclassified): declared, since DRF drops ``allow_blank`` from the
    read-only fields it builds, and the schema would then refuse the empty value."""
    return serializers.ChoiceField(choices=choices, allow_blank=True, read_only=True, help_text=help_text)


class AssignmentSerializer(serializers.ModelSerializer):
    value_tier = blank_choice(ValueTier.choices, gettext_lazy("The value tier in force (an override wins); empty: "
                                                              "unclassified."))
    value_tier_computed = blank_choice(ValueTier.choices, gettext_lazy("The value tier the engine computed."))
    previous_value_tier = blank_choice(ValueTier.choices, gettext_lazy("The value tier in force before this run."))
    card_tier = blank_choice(CardTier.choices, gettext_lazy("The card tier in force (an override wins)."))
    card_tier_computed = blank_choice(CardTier.choices, gettext_lazy("The card tier the AUM reaches this run."))
    card_tier_held = blank_choice(CardTier.choices, gettext_lazy("The card tier with hysteresis (what applies "
                                                                 "without an override)."))
    previous_card_tier = blank_choice(CardTier.choices, gettext_lazy("The card tier in force before this run."))
    lifecycle = blank_choice(LifecycleStage.choices, gettext_lazy("The lifecycle stage the run derived."))
    as_of = serializers.DateField(source="run.as_of", read_only=True,
                                  help_text=gettext_lazy("The month of the run (its first day)."))
    cif = serializers.CharField(source="customer.cif", read_only=True,
                                help_text=gettext_lazy("The customer's core-banking customer number (CIF)."))

    class Meta:
        model = Assignment
        fields = ASSIGNMENT_FIELDS
        read_only_fields = ASSIGNMENT_FIELDS
        extra_kwargs = {
            "run": {"help_text": gettext_lazy("The id of the segmentation run.")},
            "customer": {"help_text": gettext_lazy("The CRM's id of the customer.")},
            "branch": {"help_text": gettext_lazy("The customer's branch when the run classified it.")},
            "rm": {"help_text": gettext_lazy("The customer's RM when the run classified it, or null.")},
            "months_below": {"help_text": gettext_lazy("Consecutive runs below the card tier in force.")},
            "reasons": {"help_text": gettext_lazy("Short reason codes, e.g. held:2, dormant:14, npl, override.")},
        }


class HistoryQuery(serializers.Serializer):
    customer = serializers.IntegerField(required=False, help_text=gettext_lazy("The CRM's id of the customer."))
    cif = serializers.CharField(required=False, help_text=gettext_lazy("The customer's CIF."))
    run = serializers.IntegerField(required=False, help_text=gettext_lazy("A run id: every row of that run."))


class ViewsAssignments(permissions.BasePermission):
    """Staff who may see tiers (RM, supervisor, head office) and keys with segments:read (the key's scope is
    also checked per action by the default permission)."""

    def has_permission(self, request, view):
        return can(request.user, "segmentation.view_assignment")


def _default_permissions():
    from rest_framework.settings import api_settings

    return [*api_settings.DEFAULT_PERMISSION_CLASSES]


HISTORY_PARAMETERS = [
    OpenApiParameter("customer", int, description="The CRM's id of the customer: its rows of every run."),
    OpenApiParameter("cif", str, description="The customer's CIF: its rows of every run."),
    OpenApiParameter("run", int, description="A run id: every row of that run in your scope."),
]


@extend_schema_view(
    list=extend_schema(summary="The tiers in force (the current run's assignments) in your scope"),
    history=extend_schema(summary="Assignments of every completed run: one customer's history, or one run",
                          parameters=HISTORY_PARAMETERS,
                          responses={200: AssignmentSerializer(many=True),
                                     400: OpenApiResponse(description="Neither customer, cif nor run given.")}),
)
class AssignmentViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Customers' value and card tiers, potential, lifecycle and exit-review flag per segmentation run. The list
    is the run in force; ``history/`` goes back over every completed run. Rows are in your scope by the
    customer's branch and RM as the run recorded them."""

    queryset = Assignment.objects.none()  # the schema's model; get_queryset scopes the real one
    serializer_class = AssignmentSerializer
    filterset_class = AssignmentFilter
    permission_classes = [*_default_permissions(), ViewsAssignments]
    ordering_fields = ["customer_id", "score", "aum_avg", "rank_pct"]
    ordering = ["customer_id"]
    required_scopes = {"list": Scope.SEGMENTS_READ, "history": Scope.SEGMENTS_READ}

    def get_queryset(self):
        return selectors.assignments(self.request.user).select_related("run", "customer")

    @action(detail=False, methods=["get"], filter_backends=[])
    def history(self, request):
        query = HistoryQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        wanted = {k: v for k, v in query.validated_data.items() if v not in (None, "")}
        if not wanted:
            raise ValidationFailed(fields={"customer": [_("Give a customer, a cif or a run.")]})
        lookups = {"customer": "customer_id", "cif": "customer__cif", "run": "run_id"}
        qs = (selectors.assignment_history(request.user)
              .filter(**{lookups[k]: v for k, v in wanted.items()}).select_related("run", "customer")
              .order_by("-run__as_of", "-run_id", "customer_id"))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(AssignmentSerializer(page, many=True).data)


# ---- overrides ----------------------------------------------------------------------------------------------

class OverrideSerializer(serializers.ModelSerializer):
    value_tier = blank_choice(ValueTier.choices, gettext_lazy("The pinned value tier; empty: the computed one "
                                                              "applies."))
    card_tier = blank_choice(CardTier.choices, gettext_lazy("The pinned card tier; empty: the held one applies."))
    cif = serializers.CharField(source="customer.cif", read_only=True,
                                help_text=gettext_lazy("The customer's core-banking customer number (CIF)."))

    class Meta:
        model = Override
        fields = ["id", "customer", "cif", "value_tier", "card_tier", "reason", "expires_on", "created_by",
                  "created_at", "ended_at", "ended_by"]
        read_only_fields = fields
        extra_kwargs = {
            "customer": {"help_text": gettext_lazy("The CRM's id of the customer.")},
            "created_by": {"help_text": gettext_lazy("The id of the supervisor who set it.")},
            "ended_by": {"help_text": gettext_lazy("The id of who ended it early; null if running or expired.")},
        }


class OverrideWriteSerializer(serializers.Serializer):
    customer = serializers.PrimaryKeyRelatedField(queryset=Customer.objects.none(),
                                                  help_text=gettext_lazy("The CRM's id of the customer."))
    value_tier = serializers.ChoiceField(choices=ValueTier.choices, required=False, allow_blank=True, default="",
                                         help_text=gettext_lazy("The value tier to pin (or empty)."))
    card_tier = serializers.ChoiceField(choices=CardTier.choices, required=False, allow_blank=True, default="",
                                        help_text=gettext_lazy("The card tier to pin (or empty)."))
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="",
                                   help_text=gettext_lazy("Why the tier is pinned (required)."))
    expires_on = serializers.DateField(help_text=gettext_lazy(
        "The day the override ends: after today, at most SEGMENTATION_OVERRIDE_MAX_DAYS days ahead."))

    def __init__(self, *args, customers=None, **kwargs):
        super().__init__(*args, **kwargs)
        if customers is not None:
            self.fields["customer"].queryset = customers


class OverridePermission(permissions.BasePermission):
    def has_permission(self, request, view):
        if view.action in ("create", "end"):
            return can(request.user, "segmentation.override_tier")
        return can(request.user, "segmentation.view_assignment")


@extend_schema_view(
    list=extend_schema(summary="Active overrides in your scope"),
    create=extend_schema(request=OverrideWriteSerializer, responses={201: OverrideSerializer},
                         summary="Pin a customer's tier (supervisors within their branch, head office)"),
    end=extend_schema(request=None, responses={200: OverrideSerializer,
                                               409: OpenApiResponse(description="Already ended.")},
                      summary="End an override before its expiry"),
)
class OverrideViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Tier overrides: a supervisor pins a customer's value or card tier with a reason until an expiry; the tier
    in force changes at once and the engine keeps it until it expires. Audited."""

    queryset = Override.objects.none()
    serializer_class = OverrideSerializer
    permission_classes = [*_default_permissions(), OverridePermission]
    filterset_class = None
    ordering_fields = ["expires_on", "created_at"]
    ordering = ["expires_on"]
    required_scopes = {"list": Scope.SEGMENTS_READ}

    def get_queryset(self):
        return selectors.overrides_visible_to(self.request.user).filter(ended_at__isnull=True)

    def create(self, request, *args, **kwargs):
        serializer = OverrideWriteSerializer(data=request.data,
                                             customers=customer_selectors.customers_visible_to(request.user))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        override = services.override_set(actor=request.user, customer=data["customer"], value_tier=data["value_tier"],
                                         card_tier=data["card_tier"], reason=data["reason"],
                                         expires_on=data["expires_on"], today=timezone.localdate())
        return Response(OverrideSerializer(override).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        override = self.get_object()
        override = services.override_end(actor=request.user, override=override)
        return Response(OverrideSerializer(override).data)


ROUTES = [
    ("segment-assignments", AssignmentViewSet, "segment-assignment"),
    ("segment-overrides", OverrideViewSet, "segment-override"),
]
