"""Segmentation API: policies (see api/__init__.py). Read by head office and keys with segments:read; written by
head office only (draft, change, submit, approve, send back), through the same services as the pages."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.serializers import StrictMixin
from org.api.mixins import PermittedObjectMixin
from org.constants import Scope

from .. import selectors, services
from ..models import Policy

RANKING_SCOPE_HELP = "Where customers are ranked by contribution: per branch, or bank-wide."


class PolicySerializer(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display", read_only=True,
                                         help_text="The status in the caller's language.")
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, label=Policy._meta.get_field("created_by").verbose_name,
        help_text="Username of the head-office user who drafted it.")
    submitted_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True,
        label=Policy._meta.get_field("submitted_by").verbose_name,
        help_text="Username of who submitted it for approval, or null.")
    approved_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True,
        label=Policy._meta.get_field("approved_by").verbose_name,
        help_text="Username of who approved and published it, or null.")

    class Meta:
        model = Policy
        fields = ["id", "version", "status", "status_label", *services.POLICY_FIELDS, "created_by", "created_at",
                  "updated_at", "submitted_by", "approved_by", "published_at"]
        read_only_fields = fields
        extra_kwargs = {"ranking_scope": {"help_text": RANKING_SCOPE_HELP}}


class PolicyWriteSerializer(StrictMixin, serializers.ModelSerializer):
    """The settings of a draft; any subset. The checks of the parts together (shares add up to 100 %, thresholds
    rise tier by tier, a weight above 0) are the service's, answered field by field."""

    class Meta:
        model = Policy
        fields = list(services.POLICY_FIELDS)
        extra_kwargs = {**{f: {"required": False} for f in services.POLICY_FIELDS},
                        "ranking_scope": {"required": False, "help_text": RANKING_SCOPE_HELP}}


class PolicyCreateSerializer(PolicyWriteSerializer):
    based_on = serializers.PrimaryKeyRelatedField(
        queryset=Policy.objects.all(), required=False, allow_null=True,
        help_text="The id of the version to copy; default: the published version, else the documented defaults.")

    class Meta(PolicyWriteSerializer.Meta):
        fields = ["based_on", *services.POLICY_FIELDS]


class PolicyRejectSerializer(StrictMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=services.REJECT_REASON_MAX,
                                   help_text="What should change before it is submitted again.")


NOT_OPEN = OpenApiResponse(description="The version is not in a state that allows this (e.g. not a draft, or "
                                       "already published); `detail` says which.")
ONE_OPEN = OpenApiResponse(description="Another version is still a draft or awaiting approval.")


@extend_schema_view(
    list=extend_schema(summary="List segmentation policy versions, newest first"),
    retrieve=extend_schema(summary="One segmentation policy version"),
    create=extend_schema(request=PolicyCreateSerializer, responses={201: PolicySerializer, 409: ONE_OPEN},
                         summary="Start a draft version (head office)"),
    partial_update=extend_schema(request=PolicyWriteSerializer, responses={200: PolicySerializer, 409: NOT_OPEN},
                                 summary="Change settings of a draft (head office)"),
)
class PolicyViewSet(PermittedObjectMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Versions of the segmentation policy: draft → awaiting approval → published (→ retired). With four eyes
    on (the default) a second head-office user approves; publishing retires the version in force."""

    view_perm = "segmentation.view_policy"
    serializer_class = PolicySerializer
    http_method_names = ["get", "post", "patch", "head", "options"]
    filter_backends = []
    required_scopes = {"list": Scope.SEGMENTS_READ, "retrieve": Scope.SEGMENTS_READ}

    def get_queryset(self):
        return selectors.policies_visible_to(self.request.user)

    def create(self, request, *args, **kwargs):
        serializer = PolicyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        based_on = values.pop("based_on", None)
        policy = services.policy_draft(actor=request.user, based_on=based_on, values=values)
        return Response(PolicySerializer(policy).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        policy = self.get_object()
        serializer = PolicyWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        policy = services.policy_update(actor=request.user, policy=policy, values=serializer.validated_data)
        return Response(PolicySerializer(policy).data)

    @extend_schema(request=None, responses={200: PolicySerializer, 409: NOT_OPEN},
                   summary="Submit a draft for approval (head office)")
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        policy = services.policy_submit(actor=request.user, policy=self.get_object())
        return Response(PolicySerializer(policy).data)

    @extend_schema(request=None, responses={200: PolicySerializer, 409: NOT_OPEN},
                   summary="Approve and publish a version (head office; four eyes)")
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """With four eyes on, only a version awaiting approval, and only by a head-office user who neither
        drafted nor submitted it (400 with an error on `approved_by` otherwise). Retires the version in force."""
        policy = services.policy_approve(actor=request.user, policy=self.get_object(), now=timezone.now())
        return Response(PolicySerializer(policy).data)

    @extend_schema(request=PolicyRejectSerializer, responses={200: PolicySerializer, 409: NOT_OPEN},
                   summary="Send a version awaiting approval back to draft (head office)")
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        policy = self.get_object()
        serializer = PolicyRejectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        policy = services.policy_reject(actor=request.user, policy=policy, reason=serializer.validated_data["reason"])
        return Response(PolicySerializer(policy).data)


ROUTES = [("segment-policies", PolicyViewSet, "segment-policy")]
