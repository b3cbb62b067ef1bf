"""``/api/v1/sla-policies/`` and ``/api/v1/complaint-categories/``: read by everyone who works on complaints (and
keys with ``complaints:read``), created and changed by head office through the same services as the pages."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from core.errors import NotPermitted
from core.serializers import StrictMixin
from org.api.mixins import PermittedObjectMixin
from org.constants import Scope
from org.permissions import can

from .. import services
from ..models import Category, SlaPolicy

READ = Scope.COMPLAINTS_READ
HEAD_OFFICE_ONLY = OpenApiResponse(description="Only head office changes SLA policies and the taxonomy.")


class CategoryRefField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="code", queryset=Category.objects.all(), **kwargs)


class SlaPolicySerializer(StrictMixin, serializers.ModelSerializer):
    category = CategoryRefField(required=False, allow_null=True,
                                help_text="A category code (covers its sub-categories); null: any.")

    class Meta:
        model = SlaPolicy
        fields = ["id", "name", "active", "is_default", "priority", "channel", "category", "first_response_seconds",
                  "first_response_mode", "resolution_seconds", "resolution_mode", "created_at", "updated_at"]
        read_only_fields = ["id", "is_default", "created_at", "updated_at"]
        extra_kwargs = {"priority": {"help_text": "Empty: any priority."},
                        "channel": {"help_text": "Empty: any channel."}}


class CategorySerializer(StrictMixin, serializers.ModelSerializer):
    parent = CategoryRefField(required=False, allow_null=True,
                              help_text="The top-level category's code for a sub-category; null: top level.")

    class Meta:
        model = Category
        fields = ["id", "code", "name", "parent", "active", "position"]
        read_only_fields = ["id"]


class _SettingsViewSet(PermittedObjectMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    view_perm = "complaints.view_settings"
    http_method_names = ["get", "post", "patch", "head", "options"]
    filter_backends = []
    pagination_class = None
    required_scopes = {"list": READ, "retrieve": READ}
    save = None  # the service that creates or changes one (staticmethod)
    noun = ""  # its keyword for the instance

    def _write(self, request, instance, partial):
        if not can(request.user, "complaints.change_settings"):
            raise NotPermitted
        body = self.get_serializer(instance, data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        saved = type(self).save(actor=request.user, values=dict(body.validated_data),
                                **({self.noun: instance} if instance is not None else {}))
        return Response(self.get_serializer(saved).data, status=status.HTTP_200_OK if instance else
                        status.HTTP_201_CREATED)

    def create(self, request, *args, **kwargs):
        return self._write(request, None, partial=False)

    def partial_update(self, request, *args, **kwargs):
        return self._write(request, self.get_object(), partial=True)


@extend_schema_view(
    list=extend_schema(summary="SLA policies (the most specific active one applies; the default always exists)"),
    retrieve=extend_schema(summary="One SLA policy"),
    create=extend_schema(summary="Create an SLA policy (head office)", responses={201: SlaPolicySerializer,
                                                                                   403: HEAD_OFFICE_ONLY}),
    partial_update=extend_schema(summary="Change an SLA policy (head office)",
                                 responses={200: SlaPolicySerializer, 403: HEAD_OFFICE_ONLY}),
)
class SlaPolicyViewSet(_SettingsViewSet):
    serializer_class = SlaPolicySerializer
    queryset = SlaPolicy.objects.select_related("category").order_by("-is_default", "name", "id")
    save = staticmethod(services.sla_policy_save)
    noun = "policy"


@extend_schema_view(
    list=extend_schema(summary="The complaint taxonomy: categories and their sub-categories"),
    retrieve=extend_schema(summary="One complaint category"),
    create=extend_schema(summary="Create a category (head office)", responses={201: CategorySerializer,
                                                                                403: HEAD_OFFICE_ONLY}),
    partial_update=extend_schema(summary="Change or retire a category (head office)",
                                 responses={200: CategorySerializer, 403: HEAD_OFFICE_ONLY}),
)
class CategoryViewSet(_SettingsViewSet):
    serializer_class = CategorySerializer
    queryset = Category.objects.select_related("parent").order_by("parent__position", "position", "code")
    save = staticmethod(services.category_save)
    noun = "category"


ROUTES = [("sla-policies", SlaPolicyViewSet, "sla-policy"), ("complaint-categories", CategoryViewSet,
                                                             "complaint-category")]
