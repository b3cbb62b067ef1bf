"""``/api/v1/complaints/``: the queue (filters as on the page), one complaint, intake, and every change as an
action through the services: a transition, a message, an internal note, the handler, priority or category, an
extension asked or decided, an appraisal or mediation hold, satisfaction, a re-check.

Times are ISO 8601 with the offset (Asia/Shanghai), dates YYYY-MM-DD (Asia/Shanghai). A change may send the
complaint's ``version`` as read: if someone changed it since, the answer is 409 and nothing is changed."""

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.errors import NotPermitted
from core.serializers import StrictMixin
from org.access import sees_complainant
from org.api.mixins import PermittedObjectMixin
from org.constants import Scope
from org.models import Branch, User
from org.permissions import can

from .. import selectors, services
from ..constants import Action, Channel, Priority
from ..filters import ORDERINGS, ComplaintFilter
from ..models import Category, Complaint, Extension

READ, WRITE = Scope.COMPLAINTS_READ, Scope.COMPLAINTS_WRITE
VERSION_HELP = "The complaint's `version` as read: a change on an older version is refused with 409."
CONFLICT = OpenApiResponse(description="The complaint changed since `version`, or the action is not allowed from "
                                       "its status (`detail` names both), or it is no longer open.")
FORBIDDEN = OpenApiResponse(description="The caller may see the complaint but not do this (role or key scope).")
NOT_FOUND = OpenApiResponse(description="No such complaint within the caller's scope.")


class ComplaintSerializer(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(slug_field="code", read_only=True)
    category_label = serializers.CharField(source="category.__str__", read_only=True,
                                           help_text="Category / sub-category.")
    branch = serializers.SlugRelatedField(slug_field="code", read_only=True)
    handler = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    customer = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    customer_cif = serializers.SerializerMethodField(help_text="The customer's CIF; null for an unidentified "
                                                               "complainant, or when hidden (purpose-bound access).")
    complainant = serializers.SerializerMethodField(help_text="Who complained; masked unless the caller may see "
                                                              "it (a complaint officer: only as handler).")
    contact = serializers.SerializerMethodField(help_text="Phone and email of the complainant, masked likewise.")
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    sla_state = serializers.SerializerMethodField(help_text="on_track, at_risk, breached, paused or met: the "
                                                            "monitor's, turned breached once a running deadline "
                                                            "passed.")
    regulatory_due_date = serializers.DateField(help_text="The regulator's decision deadline (YYYY-MM-DD, "
                                                          "Asia/Shanghai).")
    escalation_level = serializers.IntegerField(help_text="0 handler, 1 branch supervisor, 2 superior branch, "
                                                          "3 head office.")
    calendar_provisional = serializers.BooleanField(help_text="A due time falls in a year whose holiday schedule is "
                                                              "not entered: computed on the statutory days only.")
    paused_seconds = serializers.IntegerField(help_text="Working seconds the service clock was held waiting for "
                                                        "the customer.")

    class Meta:
        model = Complaint
        fields = ["id", "number", "version", "customer", "customer_cif", "complainant", "contact", "branch",
                  "channel", "category", "category_label", "description", "received_at", "created_at",
                  "complainants", "major", "priority", "status", "status_label", "handler", "escalation_level",
                  "first_response_due", "first_responded_at", "resolution_due", "resolved_at", "closed_at",
                  "withdrawn_at", "sla_state", "paused_seconds", "calendar_provisional", "regulatory_due_date",
                  "extensions", "regulatory_paused_days", "regulatory_held_since", "decided_on",
                  "resolution_summary", "root_cause", "remedy", "remedies_told", "satisfaction", "satisfaction_note",
                  "review_of"]
        read_only_fields = fields

    def _visible(self, obj) -> bool:
        return sees_complainant(self.context["request"].user, handler_id=obj.handler_id)

    def get_customer_cif(self, obj) -> str | None:
        return obj.customer.cif if obj.customer_id and self._visible(obj) else None

    def get_complainant(self, obj) -> str:
        return selectors.complainant_of(obj, self._visible(obj))[0]

    def get_contact(self, obj) -> str:
        return selectors.complainant_of(obj, self._visible(obj))[1]

    def get_sla_state(self, obj) -> str:
        return selectors.sla_state_now(obj, timezone.now())

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not self._visible(instance):
            data["customer"] = None
        return data


class ComplaintCreateSerializer(StrictMixin, serializers.Serializer):
    customer = serializers.IntegerField(required=False, allow_null=True, help_text="The customer's id, or …")
    customer_cif = serializers.CharField(required=False, allow_blank=True, max_length=32,
                                         help_text="… the customer's CIF. Neither: an unidentified complainant.")
    complainant_name = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    complainant_phone = serializers.CharField(required=False, allow_blank=True, max_length=20, default="")
    complainant_email = serializers.EmailField(required=False, allow_blank=True, default="")
    branch = serializers.CharField(required=False, allow_blank=True, max_length=20,
                                   help_text="The handling branch's code; default: the customer's branch.")
    channel = serializers.ChoiceField(choices=Channel.choices, help_text="How the complaint reached the bank.")
    category = serializers.CharField(max_length=30, help_text="A category code (sub-category or category).")
    description = serializers.CharField(max_length=4000)
    received_at = serializers.DateTimeField(help_text="When the bank received it (ISO 8601 with offset); not in the "
                                                      "future.")
    complainants = serializers.IntegerField(min_value=1, max_value=100000, default=1)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL,
                                       help_text="Chooses the SLA policy with channel and category; 20 or more "
                                                 "complainants at the counter make it urgent.")


class TransitionSerializer(StrictMixin, serializers.Serializer):
    action = serializers.ChoiceField(choices=Action.choices, help_text="What to do; the transition table says "
                                                                      "from which status (else 409).")
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")
    version = serializers.IntegerField(required=False, allow_null=True, default=None, help_text=VERSION_HELP)
    resolution_summary = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="",
                                               help_text="Closing: required.")
    root_cause = serializers.CharField(required=False, allow_blank=True, max_length=30, default="",
                                       help_text="Closing: required (a root-cause code).")
    remedy = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="",
                                   help_text="Closing: required.")
    remedies_told = serializers.BooleanField(required=False, default=False,
                                             help_text="Closing: the customer was told of further remedies.")


class TextSerializer(StrictMixin, serializers.Serializer):
    text = serializers.CharField(max_length=4000, allow_blank=True)


class MessageSerializer(TextSerializer):
    outgoing = serializers.BooleanField(help_text="true: the bank wrote to the customer (meets the first response); "
                                                  "false: the customer wrote.")
    version = serializers.IntegerField(required=False, allow_null=True, default=None, help_text=VERSION_HELP)


class AssignSerializer(StrictMixin, serializers.Serializer):
    handler = serializers.CharField(allow_null=True, max_length=150, help_text="A username, or null for nobody.")
    version = serializers.IntegerField(required=False, allow_null=True, default=None, help_text=VERSION_HELP)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class ChangeSerializer(StrictMixin, serializers.Serializer):
    priority = serializers.ChoiceField(choices=Priority.choices, required=False,
                                       help_text="The new priority (a major complaint stays urgent).")
    category = serializers.CharField(required=False, max_length=30, help_text="A category code.")
    version = serializers.IntegerField(required=False, allow_null=True, default=None, help_text=VERSION_HELP)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class ExtensionSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True,
                                                help_text="Who asked (null: an integration client).")
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Extension
        fields = ["id", "number", "reason", "state", "requested_by", "requested_at", "decided_by", "decided_at",
                  "complainant_told"]
        read_only_fields = fields
        extra_kwargs = {"state": {"help_text": "requested (awaiting approval), approved or refused."}}


class ExtensionRequestSerializer(StrictMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=2000, allow_blank=True)


class ExtensionDecideSerializer(StrictMixin, serializers.Serializer):
    approve = serializers.BooleanField()
    complainant_told = serializers.BooleanField(default=False, help_text="Approving: required (true).")
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class HoldSerializer(StrictMixin, serializers.Serializer):
    held = serializers.BooleanField(help_text="true: an external appraisal or mediation starts; false: it ended.")
    note = serializers.CharField(max_length=2000, allow_blank=True)


class SatisfactionSerializer(StrictMixin, serializers.Serializer):
    score = serializers.IntegerField(min_value=1, max_value=5)
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    follow_up = serializers.ChoiceField(choices=[("reopen", "reopen"), ("task", "task")], default="reopen",
                                        help_text="A dissatisfied answer (1–2): reopen, or a task for the RM.")


class ReviewSerializer(StrictMixin, serializers.Serializer):
    requested_at = serializers.DateTimeField()
    description = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")


class TimelineSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    kind_label = serializers.CharField()
    who = serializers.CharField()
    title = serializers.CharField()
    text = serializers.CharField()
    outgoing = serializers.BooleanField(allow_null=True)


def _category(code: str | None, field: str = "category") -> Category | None:
    if code is None:
        return None
    category = Category.objects.filter(code=code).select_related("parent").first()
    if category is None:
        raise serializers.ValidationError({field: [_("No such category.")]})
    return category



def _action(summary: str, request=None, responses: dict | None = None):
    return extend_schema(summary=summary, request=request, responses={
        200: ComplaintSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT, **(responses or {})})


@extend_schema_view(
    list=extend_schema(summary="The complaint queue (filters as on the page; default: soonest service deadline "
                               "first)"),
    retrieve=extend_schema(summary="One complaint with both clocks", responses={200: ComplaintSerializer,
                                                                                404: NOT_FOUND}),
    create=extend_schema(summary="Record a complaint", request=ComplaintCreateSerializer,
                         responses={201: ComplaintSerializer, 403: FORBIDDEN}),
    partial_update=extend_schema(summary="Change priority or category (the SLA policy is chosen again; time used "
                                         "is kept)", request=ChangeSerializer,
                                 responses={200: ComplaintSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT}),
)
class ComplaintViewSet(PermittedObjectMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    view_perm = "complaints.view_complaint"
    serializer_class = ComplaintSerializer
    filterset_class = ComplaintFilter
    http_method_names = ["get", "post", "patch", "head", "options"]
    required_scopes = {"list": READ, "retrieve": READ, "timeline": READ, "create": WRITE, "partial_update": WRITE,
                       "transition": WRITE, "messages": WRITE, "notes": WRITE, "assign": WRITE,
                       "extensions": WRITE, "decide_extension": WRITE, "hold": WRITE, "satisfaction": WRITE,
                       "review": WRITE}

    def get_queryset(self):
        return selectors.queue_queryset(self.request.user).select_related("review_of").order_by(*ORDERINGS["due"])

    def _answer(self, complaint, code=status.HTTP_200_OK):
        fresh = self.get_queryset().get(pk=complaint.pk)
        return Response(ComplaintSerializer(fresh, context=self.get_serializer_context()).data, status=code)

    def _body(self, serializer_class):
        body = serializer_class(data=self.request.data)
        body.is_valid(raise_exception=True)
        return body.validated_data

    def create(self, request, *args, **kwargs):
        values = self._body(ComplaintCreateSerializer)
        customer = None
        if values.get("customer") is not None or values.get("customer_cif"):
            lookup = ({"pk": values["customer"]} if values.get("customer") is not None
                      else {"cif": values["customer_cif"]})
            customer = selectors.complainable_customers(request.user).filter(**lookup).first()
            if customer is None:
                field = "customer" if values.get("customer") is not None else "customer_cif"
                raise serializers.ValidationError({field: [_("No such customer within your scope.")]})
        branch = None
        if values.get("branch"):
            branch = Branch.objects.filter(code=values["branch"]).first()
            if branch is None:
                raise serializers.ValidationError({"branch": [_("No such branch.")]})
        complaint = services.complaint_open(
            actor=request.user, customer=customer, branch=branch, channel=values["channel"],
            category=_category(values["category"]), description=values["description"],
            received_at=values["received_at"], now=timezone.now(), complainant_name=values["complainant_name"],
            complainant_phone=values["complainant_phone"], complainant_email=values["complainant_email"],
            complainants=values["complainants"], priority=values["priority"])
        return self._answer(complaint, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        complaint = self.get_object()
        values = self._body(ChangeSerializer)
        complaint = services.complaint_change(
            actor=request.user, complaint=complaint, now=timezone.now(), version=values["version"],
            priority=values.get("priority"), category=_category(values.get("category")), note=values["note"])
        return self._answer(complaint)

    @_action("The timeline: transitions, messages, notes, clock events, warnings, escalations",
             responses={200: TimelineSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def timeline(self, request, pk=None):
        complaint = self.get_object()
        return Response(TimelineSerializer(selectors.timeline(complaint), many=True).data)

    @_action("Change the status by an action the transition table allows", TransitionSerializer)
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        complaint = self.get_object()
        values = self._body(TransitionSerializer)
        complaint = services.complaint_act(actor=request.user, complaint=complaint, now=timezone.now(), **values)
        return self._answer(complaint)

    @_action("A message to or from the customer (on the timeline)", MessageSerializer)
    @action(detail=True, methods=["post"])
    def messages(self, request, pk=None):
        complaint = self.get_object()
        values = self._body(MessageSerializer)
        complaint = services.complaint_message(actor=request.user, complaint=complaint, now=timezone.now(),
                                               text=values["text"], outgoing=values["outgoing"],
                                               version=values["version"])
        return self._answer(complaint)

    @_action("An internal note (kept inside the bank)", TextSerializer, {201: ComplaintSerializer})
    @action(detail=True, methods=["post"])
    def notes(self, request, pk=None):
        complaint = self.get_object()
        values = self._body(TextSerializer)
        services.complaint_note(actor=request.user, complaint=complaint, text=values["text"], now=timezone.now())
        return self._answer(complaint, status.HTTP_201_CREATED)

    @_action("Assign the handler (a supervisor, head office, a key; an officer takes an unassigned one)",
             AssignSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        complaint = self.get_object()
        values = self._body(AssignSerializer)
        handler = None
        if values["handler"]:
            handler = User.objects.filter(username=values["handler"], is_active=True).first()
            if handler is None:
                raise serializers.ValidationError({"handler": [_("No such active member of staff.")]})
        complaint = services.complaint_assign(actor=request.user, complaint=complaint, handler=handler,
                                              now=timezone.now(), version=values["version"], note=values["note"])
        return self._answer(complaint)

    @_action("Ask to extend the regulator's deadline (with the reason)", ExtensionRequestSerializer,
             {201: ExtensionSerializer})
    @action(detail=True, methods=["post"])
    def extensions(self, request, pk=None):
        complaint = self.get_object()
        values = self._body(ExtensionRequestSerializer)
        extension = services.extension_request(actor=request.user, complaint=complaint, reason=values["reason"],
                                               now=timezone.now())
        return Response(ExtensionSerializer(extension).data, status=status.HTTP_201_CREATED)

    @_action("Approve or refuse the extension awaiting approval (a supervisor or head office; never the requester)",
             ExtensionDecideSerializer, {200: ExtensionSerializer})
    @action(detail=True, methods=["post"], url_path="decide-extension")
    def decide_extension(self, request, pk=None):
        complaint = self.get_object()
        values = self._body(ExtensionDecideSerializer)
        pending = complaint.extension_requests.filter(state=Extension.State.REQUESTED).first()
        if pending is None:
            raise Http404
        if not can(request.user, "complaints.decide_extension"):
            raise NotPermitted
        extension = services.extension_decide(actor=request.user, extension=pending, approve=values["approve"],
                                              complainant_told=values["complainant_told"], note=values["note"],
                                              now=timezone.now())
        return Response(ExtensionSerializer(extension).data)

    @_action("An external appraisal or mediation starts or ends (it holds the regulator's clock)", HoldSerializer)
    @action(detail=True, methods=["post"])
    def hold(self, request, pk=None):
        complaint = self.get_object()
        values = self._body(HoldSerializer)
        complaint = services.regulatory_hold(actor=request.user, complaint=complaint, held=values["held"],
                                             note=values["note"], now=timezone.now())
        return self._answer(complaint)

    @_action("Record the customer's satisfaction (1–5) after resolution", SatisfactionSerializer)
    @action(detail=True, methods=["post"])
    def satisfaction(self, request, pk=None):
        complaint = self.get_object()
        values = self._body(SatisfactionSerializer)
        complaint = services.satisfaction_record(actor=request.user, complaint=complaint, now=timezone.now(),
                                                 **values)
        return self._answer(complaint)

    @_action("Open a re-check (核查) of the decision by the superior branch", ReviewSerializer,
             {201: ComplaintSerializer})
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        complaint = self.get_object()
        values = self._body(ReviewSerializer)
        review = services.review_open(actor=request.user, complaint=complaint, now=timezone.now(), **values)
        return self._answer(review, status.HTTP_201_CREATED)





ROUTES = [("complaints", ComplaintViewSet, "complaint")]
