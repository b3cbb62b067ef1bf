"""Campaigns API: ``/api/v1/campaigns/`` (list, one, create and change drafts, audience preview, approve, cancel,
members with their outcomes), ``/api/v1/campaign-members/{id}/outcome/``, ``/api/v1/messages/`` (the messages to
customers and their status, by customer or campaign), ``/api/v1/job-runs/`` (what the scheduled jobs did) and
``/api/v1/opt-outs/`` (an SMS gateway's 退订 replies; consents:write). Scopes: campaigns:read, campaigns:write."""

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.errors import NotPermitted
from core.serializers import StrictMixin
from customers import services as customer_services
from customers.models import Customer
from org.access import scope_of
from org.api.mixins import PermittedObjectMixin
from org.constants import Scope
from org.permissions import can

from . import selectors, services
from .constants import Outcome
from .models import Campaign, JobRun, Member, Message

READ, WRITE = Scope.CAMPAIGNS_READ, Scope.CAMPAIGNS_WRITE
CONFLICT = OpenApiResponse(description="Not a draft any more (edits), not a draft (approval), or already ended.")


class CampaignSerializer(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display", read_only=True,
                                         help_text="The status in the caller's language.")
    branch = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True,
                                          help_text="Whose campaign: a branch's, or null for head office's.")

    class Meta:
        model = Campaign
        fields = ["id", "name", "goal", "status", "status_label", "branch", "audience", "control_share", "channels",
                  "template_zh", "template_en", "product_risk", "product_type", "starts_at", "attribution_days",
                  "approved_at", "launched_at", "finished_at", "counts", "version"]
        read_only_fields = ["status", "approved_at", "launched_at", "finished_at", "counts", "version"]
        extra_kwargs = {
            "audience": {"help_text": "The saved filter: value_tier, card_tier, lifecycle_stage, tags, risk_level "
                                      "(lists); branch, rm, age_min, age_max, birthday_month (numbers); "
                                      "product_held, product_not_held (a product type)."},
            "channels": {"help_text": "Any of sms, email, app, rm_task, in order of preference."},
            "template_zh": {"help_text": "Variables: {name}, {surname}, {honorific}, {rm}, {branch}."},
            "product_risk": {"help_text": "A product offer: R1–R5 (only suitable customers are contacted)."},
            "control_share": {"help_text": "0 to 0.5 of the audience held out to measure uplift."},
        }


class CampaignWriteSerializer(StrictMixin, CampaignSerializer):
    version_expected = serializers.IntegerField(required=False, write_only=True,
                                                help_text="The version as read: a stale one is a 409.")

    class Meta(CampaignSerializer.Meta):
        fields = [*services.EDITABLE, "version_expected"]
        read_only_fields = []
        extra_kwargs = {name: {"required": False} for name in services.EDITABLE} | {"name": {"required": True}}


class AudiencePreviewSerializer(serializers.Serializer):
    size = serializers.IntegerField(help_text="Customers the audience matches now.")
    control_estimate = serializers.IntegerField()
    unsuitable = serializers.IntegerField(help_text="A product offer: customers it would leave out.")
    warning = serializers.CharField()


class MemberSerializer(serializers.ModelSerializer):
    cif = serializers.CharField(source="customer.cif", read_only=True)
    name = serializers.CharField(source="customer.name", read_only=True)

    class Meta:
        model = Member
        fields = ["id", "cif", "name", "value_tier", "excluded", "outcome", "outcome_at", "converted_at"]
        read_only_fields = fields
        extra_kwargs = {"excluded": {"help_text": "Why not contacted: control, unsuitable, no_channel; empty: "
                                                  "contacted."},
                        "value_tier": {"help_text": "The customer's value tier at launch (empty: not classified)."}}


class OutcomeSerializer(StrictMixin, serializers.Serializer):
    outcome = serializers.ChoiceField(choices=Outcome.choices, help_text="What came of the contact.")


class MessageSerializer(serializers.ModelSerializer):
    cif = serializers.CharField(source="customer.cif", read_only=True)

    class Meta:
        model = Message
        fields = ["id", "key", "cif", "campaign", "channel", "purpose", "marketing", "status", "due_at", "sent_at",
                  "attempts", "cancel_reason", "last_error"]
        read_only_fields = fields
        extra_kwargs = {"status": {"help_text": "queued, sending, sent, cancelled, failed, unknown (to "
                                                "reconcile with the provider)."}}


class JobRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobRun
        fields = ["id", "job", "day", "started_at", "finished_at", "counts"]


class OptOutSerializer(StrictMixin, serializers.Serializer):
    cif = serializers.CharField(required=False, max_length=32, help_text="The customer's CIF, or …")
    mobile = serializers.CharField(required=False, max_length=20, help_text="… the mobile the reply came from.")
    channels = serializers.ListField(child=serializers.CharField(max_length=10), default=["sms"],
                                     help_text="sms, email, phone, app, or all (do not contact).")


def _version(data):
    return data.pop("version_expected", None)


@extend_schema_view(
    list=extend_schema(summary="Campaigns the caller sees"),
    retrieve=extend_schema(summary="One campaign with its launch counts"),
    create=extend_schema(summary="Create a draft (supervisors, head office)", request=CampaignWriteSerializer,
                         responses={201: CampaignSerializer}),
    partial_update=extend_schema(summary="Change a draft", request=CampaignWriteSerializer,
                                 responses={200: CampaignSerializer, 409: CONFLICT}),
)
class CampaignViewSet(PermittedObjectMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    view_perm = "campaigns.view_campaign"
    serializer_class = CampaignSerializer
    filter_backends = []
    http_method_names = ["get", "post", "patch", "head", "options"]
    required_scopes = {"list": READ, "retrieve": READ, "preview": READ, "members": READ, "create": WRITE,
                       "partial_update": WRITE, "cancel": WRITE}

    def get_queryset(self):
        return selectors.campaigns_visible_to(self.request.user).select_related("branch")

    def create(self, request, *args, **kwargs):
        body = CampaignWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        _version(data)
        campaign = services.campaign_save(actor=request.user, values=data, now=timezone.now())
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        campaign = self.get_object()
        body = CampaignWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        version = _version(data)
        campaign = services.campaign_save(actor=request.user, campaign=campaign, values=data, now=timezone.now(),
                                          version=version)
        return Response(CampaignSerializer(campaign).data)

    @extend_schema(summary="The audience's size now, and what a product offer would leave out",
                   responses={200: AudiencePreviewSerializer})
    @action(detail=True, methods=["get"])
    def preview(self, request, pk=None):
        return Response(AudiencePreviewSerializer(services.campaign_preview(campaign=self.get_object(),
                                                                    today=timezone.localdate())).data)

    @extend_schema(summary="Approve a draft (a supervisor or head office, not its author): it launches at its start",
                   request=None, responses={200: CampaignSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        campaign = services.campaign_approve(actor=request.user, campaign=self.get_object(), now=timezone.now())
        return Response(CampaignSerializer(campaign).data)

    @extend_schema(summary="Cancel (queued messages are cancelled with the reason)", request=None,
                   responses={200: CampaignSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        campaign = services.campaign_cancel(actor=request.user, campaign=self.get_object(), now=timezone.now())
        return Response(CampaignSerializer(campaign).data)

    @extend_schema(summary="The audience as snapshotted at launch, with outcomes", responses={
        200: MemberSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def members(self, request, pk=None):
        campaign = self.get_object()
        members = scope_of(request.user).filter(
            Member.objects.filter(campaign=campaign), branch="customer__branch_id", rm="customer__rm_id")
        page = self.paginate_queryset(members.select_related("customer").order_by("id"))
        return self.get_paginated_response(MemberSerializer(page, many=True).data)


class MemberViewSet(viewsets.GenericViewSet):
    queryset = Member.objects.none()
    serializer_class = MemberSerializer
    required_scopes = {"outcome": WRITE}

    @extend_schema(summary="Record the outcome of a campaign contact", request=OutcomeSerializer,
                   responses={200: MemberSerializer, 404: OpenApiResponse(description="Not in the caller's scope."),
                              409: OpenApiResponse(description="The customer was not contacted.")})
    @action(detail=True, methods=["post"])
    def outcome(self, request, pk=None):
        body = OutcomeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            member = Member.objects.get(pk=int(pk))
        except (Member.DoesNotExist, ValueError, OverflowError):
            raise Http404 from None
        try:
            member = services.outcome_record(actor=request.user, member=member,
                                             outcome=body.validated_data["outcome"], now=timezone.now())
        except NotPermitted:
            raise Http404 from None
        return Response(MemberSerializer(member).data)


@extend_schema_view(list=extend_schema(summary="Messages to customers and their status", parameters=[
    OpenApiParameter("customer", int, description="A customer's id."),
    OpenApiParameter("campaign", int, description="A campaign's id.")]))
class MessageViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = MessageSerializer
    filter_backends = []
    required_scopes = {"list": READ}

    def get_queryset(self):
        if not can(self.request.user, "campaigns.view_campaign"):
            raise Http404
        qs = scope_of(self.request.user).filter(Message.objects.select_related("customer"),
                                                branch="customer__branch_id", rm="customer__rm_id")
        for name in ("customer", "campaign"):
            value = self.request.query_params.get(name)
            if value:
                if not value.isdigit():
                    raise serializers.ValidationError({name: [_("Give an id.")]})
                qs = qs.filter(**{f"{name}_id": int(value)})
        return qs.order_by("-id")


@extend_schema_view(list=extend_schema(summary="Runs of the scheduled jobs, newest first"))
class JobRunViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = JobRunSerializer
    filter_backends = []
    required_scopes = {"list": READ}

    def get_queryset(self):
        if not can(self.request.user, "campaigns.change_campaign") and not can(self.request.user,
                                                                                "campaigns.view_campaign"):
            raise Http404
        return JobRun.objects.order_by("-started_at", "-id")


class OptOutViewSet(viewsets.GenericViewSet):
    serializer_class = OptOutSerializer
    queryset = Customer.objects.none()
    required_scopes = {"create": Scope.CONSENTS_WRITE}

    @extend_schema(summary="A customer's opt-out (e.g. an SMS gateway's 退订 reply)", request=OptOutSerializer,
                   responses={201: OpenApiResponse(description="Recorded: the changes made."),
                              404: OpenApiResponse(description="No such customer within the key's branches.")})
    def create(self, request):
        body = OptOutSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if not data.get("cif") and not data.get("mobile"):
            raise serializers.ValidationError({"cif": [_("Give the CIF or the mobile.")]})
        lookup = {"cif": data["cif"]} if data.get("cif") else {"mobile": data["mobile"]}
        customers = list(scope_of(request.user).filter(Customer.objects.filter(**lookup), branch="branch_id",
                                                       rm="rm_id")[:20])
        if not customers:
            raise Http404
        changes = {c.cif: customer_services.consent_withdraw(actor=request.user, customer=c,
                                                             channels=data["channels"]) for c in customers}
        return Response({"changed": changes}, status=status.HTTP_201_CREATED)


ROUTES = [("campaigns", CampaignViewSet, "campaign"), ("campaign-members", MemberViewSet, "campaign-member"),
          ("messages", MessageViewSet, "message"), ("job-runs", JobRunViewSet, "job-run"),
          ("opt-outs", OptOutViewSet, "opt-out")]


def register(router):
    for prefix, viewset, basename in ROUTES:
        router.register(prefix, viewset, basename=basename)


