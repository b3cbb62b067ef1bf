"""Segmentation API: runs (status, report; start one with segments:run or as head office) and the what-if
preview of a policy version (head office)."""

from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from org.access import is_api_client
from org.constants import Scope
from org.permissions import can

from .. import engine, selectors, services
from ..constants import RunTrigger
from ..models import Policy, Run


class RunSerializer(serializers.ModelSerializer):
    policy_version = serializers.IntegerField(source="policy.version", read_only=True)
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = Run
        fields = ["id", "as_of", "policy", "policy_version", "status", "trigger", "is_current", "started_at",
                  "finished_at", "customers_total", "customers_done", "percent", "error"]


class RunDetailSerializer(RunSerializer):
    report = serializers.JSONField(read_only=True, help_text="Per scope (a branch id, or 0 bank-wide): customers, "
                                   "customers per value tier as asked and as assigned (important, secondary, "
                                   "ordinary, small), the actual cut-off scores, notes (tie, tiny); the branches "
                                   "without snapshots of the month.")

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "report"]


class RunStartSerializer(serializers.Serializer):
    as_of = serializers.DateField(required=False, help_text="The month to classify, as its first day; default: "
                                  "the newest month with snapshots.")


class PreviewRequestSerializer(serializers.Serializer):
    policy = serializers.PrimaryKeyRelatedField(queryset=Policy.objects.all())
    as_of = serializers.DateField(required=False)


class TierFiguresSerializer(serializers.Serializer):
    tier = serializers.CharField(help_text="Empty: unclassified.")
    customers = serializers.IntegerField()
    aum = serializers.FloatField()
    contribution = serializers.FloatField()


class MatrixCellSerializer(serializers.Serializer):
    to = serializers.CharField()
    customers = serializers.IntegerField()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.CharField(help_text="The value tier in force now (empty: none).")
        return fields


class PreviewSerializer(serializers.Serializer):
    value_tiers = TierFiguresSerializer(many=True)
    card_tiers = TierFiguresSerializer(many=True)
    matrix = MatrixCellSerializer(many=True)
    report = serializers.JSONField()


ALREADY_RUNNING = OpenApiResponse(description="A run is already running.")


@extend_schema_view(
    list=extend_schema(summary="Segmentation runs, newest first"),
    retrieve=extend_schema(summary="One run with its report", responses=RunDetailSerializer),
    create=extend_schema(
        summary="Start a run (idempotent per month and policy version)", request=RunStartSerializer,
        responses={202: RunSerializer, 200: OpenApiResponse(RunSerializer, description="This month was already "
                   "classified under the published policy version: that run."), 409: ALREADY_RUNNING}),
)
class RunViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = RunSerializer
    ordering_fields = ["started_at", "as_of"]
    ordering = ["-started_at", "-id"]
    required_scopes = {"list": Scope.SEGMENTS_READ, "retrieve": Scope.SEGMENTS_READ, "create": Scope.SEGMENTS_RUN}

    def get_queryset(self):
        return selectors.runs_visible_to(self.request.user)

    def get_serializer_class(self):
        return RunDetailSerializer if self.action == "retrieve" else RunSerializer

    def get_object(self):
        try:
            return selectors.run_get(self.request.user, int(self.kwargs["pk"]))
        except (Run.DoesNotExist, ValueError):
            raise Http404 from None

    def create(self, request, *args, **kwargs):
        if not can(request.user, "segmentation.start_run"):
            raise Http404
        serializer = RunStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        trigger = RunTrigger.API if is_api_client(request.user) else RunTrigger.MANUAL
        run, started = services.run_start(actor=request.user, as_of=serializer.validated_data.get("as_of"),
                                          trigger=trigger)
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED if started else status.HTTP_200_OK)


class PreviewViewSet(viewsets.GenericViewSet):
    """What-if: a policy version on current data, exactly as a run would classify; nothing is written."""

    serializer_class = PreviewSerializer
    required_scopes = {}

    @extend_schema(summary="Preview a policy version on current data (head office)",
                   request=PreviewRequestSerializer, responses={200: PreviewSerializer})
    @action(detail=False, methods=["post"], url_path="run")
    def run(self, request):
        if not can(request.user, "segmentation.change_policy"):
            raise Http404
        serializer = PreviewRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        as_of = serializer.validated_data.get("as_of") or services.latest_period() or \
            engine.month_start(timezone.localdate(), 1)
        result = selectors.policy_preview(request.user, serializer.validated_data["policy"], as_of=as_of,
                                          today=timezone.localdate())
        return Response(PreviewSerializer(result).data)


ROUTES = [("segment-runs", RunViewSet, "segment-run"), ("segment-previews", PreviewViewSet, "segment-preview")]
