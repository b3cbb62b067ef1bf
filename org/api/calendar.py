"""The working calendar's API: every member of staff and keys with ``complaints:read`` read it; head office
changes it, through the same services as the page.

- ``GET /api/v1/calendar/?branch=CODE&year=YYYY``: a branch's (or the bank's) calendar of a year as it applies.
- ``/api/v1/calendar-days/``: the per-date entries (list by year and branch; head office: create or change one,
  delete one).
- ``/api/v1/working-hours/``: the branches that set their own hours (head office: set, clear).
- ``/api/v1/calendar-years/``: the years held; head office loads a whole year.
"""

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from core.errors import NotPermitted, ValidationFailed
from core.serializers import StrictMixin

from .. import selectors, services
from ..access import scope_of
from ..constants import CalendarKind, Scope
from ..models import Branch, CalendarDay, CalendarYear, WorkingHours
from ..permissions import can

READ = Scope.COMPLAINTS_READ
KIND_HELP = "holiday: a day off; workday: a make-up working day (调休, a Saturday or a Sunday worked)."
BRANCH_HELP = "A branch code; empty or absent: the whole bank's calendar."
HEAD_OFFICE_ONLY = OpenApiResponse(description="Only head office changes the calendar.")
NOT_IN_SCOPE = OpenApiResponse(description="No such branch within the caller's scope.")


def _visible_branch(actor, code: str | None) -> Branch | None:
    """The branch ``code`` names within the caller's scope (None: the bank); 404 outside it."""
    if not code:
        return None
    branch = scope_of(actor).branches().filter(code=code).first()
    if branch is None:
        raise Http404
    return branch


def _require_change(actor) -> None:
    if not can(actor, "org.change_calendar"):
        raise NotPermitted


def _year(value, default: int) -> int:
    try:
        year = int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        raise serializers.ValidationError({"year": [_("Enter a year, e.g. 2026.")]}) from None
    if not 1990 <= year <= 2100:
        raise serializers.ValidationError({"year": [_("Enter a year between 1990 and 2100.")]})
    return year


class CalendarDaySerializer(serializers.ModelSerializer):
    date = serializers.DateField(source="day", help_text="YYYY-MM-DD (Asia/Shanghai).")
    branch = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True,
                                          help_text="The branch whose own day it is; null: the whole bank's.")

    class Meta:
        model = CalendarDay
        fields = ["id", "date", "kind", "name", "branch"]


class CalendarDayWriteSerializer(StrictMixin, serializers.Serializer):
    date = serializers.DateField(help_text="YYYY-MM-DD.")
    kind = serializers.ChoiceField(choices=CalendarKind.choices, help_text=KIND_HELP)
    name = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    branch = serializers.CharField(max_length=20, required=False, allow_blank=True, allow_null=True, default=None,
                                   help_text=BRANCH_HELP)


class AppliedDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    weekday = serializers.CharField(help_text="The weekday in the caller's language.")
    kind = serializers.ChoiceField(choices=CalendarKind.choices, help_text=KIND_HELP)
    name = serializers.CharField()
    set_for = serializers.CharField(allow_null=True, help_text="The branch whose own day it is; null: the bank's.")


@extend_schema_serializer(many=False)  # the "list" action answers one calendar, not a list
class CalendarSerializer(serializers.Serializer):
    branch = serializers.CharField(allow_null=True)
    year = serializers.IntegerField()
    provisional = serializers.BooleanField(help_text="The year's schedule is not entered: Monday–Friday minus the "
                                                     "statutory days the law fixes.")
    working_days = serializers.IntegerField()
    hours = serializers.ListField(child=serializers.ListField(child=serializers.ListField(
        child=serializers.CharField())), help_text="Seven lists, Monday first, of [\"HH:MM\", \"HH:MM\"].")
    hours_from = serializers.CharField(allow_null=True, help_text="The branch the hours come from; null: default.")
    days = AppliedDaySerializer(many=True)
    statutory = serializers.ListField(child=serializers.DateField(),
                                      help_text="A provisional year: the days off the law fixes (computed).")
    held = serializers.ListField(child=serializers.IntegerField(), allow_null=True,
                                 help_text="The first and last year the bank's schedule is held for.")
    enter_next = serializers.IntegerField(allow_null=True, help_text="The year whose schedule head office should "
                                                                     "enter now (from 60 days before it starts).")


class CalendarViewSet(viewsets.ViewSet):
    required_scopes = {"list": READ}

    @extend_schema(
        summary="A branch's working calendar of a year, as it applies",
        parameters=[OpenApiParameter("branch", str, description=BRANCH_HELP),
                    OpenApiParameter("year", int, description="Default: this year (Asia/Shanghai).")],
        responses={200: CalendarSerializer, 400: OpenApiResponse(description="`year` is not a year from 1990 to 2100."),
                   404: NOT_IN_SCOPE})
    def list(self, request):
        today = timezone.localdate()
        year = _year(request.query_params.get("year"), today.year)
        branch = _visible_branch(request.user, request.query_params.get("branch"))
        view = selectors.calendar_view(year=year, branch=branch, today=today)
        return Response(CalendarSerializer({
            "branch": branch.code if branch else None, "year": year, "provisional": view.provisional,
            "working_days": view.working_days, "hours": view.week, "hours_from": view.hours_from,
            "days": [{"date": e.day, "weekday": e.weekday, "kind": e.kind, "name": e.name, "set_for": e.branch}
                     for e in view.entries],
            "statutory": [d for d, _name in view.statutory], "held": list(view.held) if view.held else None,
            "enter_next": view.warning_year}).data)


@extend_schema_view(
    list=extend_schema(summary="Days off and make-up working days of a year",
                       responses={200: CalendarDaySerializer(many=True), 400: OpenApiResponse(
                           description="`year` is not a year from 1990 to 2100."), 404: NOT_IN_SCOPE},
                       parameters=[OpenApiParameter("year", int, description="Default: this year."),
                                   OpenApiParameter("branch", str, description="A branch code: its own days only; "
                                                                               "absent: the bank's.")]),
    create=extend_schema(request=CalendarDayWriteSerializer, responses={201: CalendarDaySerializer,
                                                                        403: HEAD_OFFICE_ONLY, 404: NOT_IN_SCOPE},
                         summary="Set a day off or a make-up working day (head office; replaces that date's)"),
    destroy=extend_schema(responses={204: None, 403: HEAD_OFFICE_ONLY}, summary="Remove a day (head office)"),
)
class CalendarDayViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
                         viewsets.GenericViewSet):
    serializer_class = CalendarDaySerializer
    filter_backends = []
    required_scopes = {"list": READ}

    def get_queryset(self):
        params = self.request.query_params
        year = _year(params.get("year"), timezone.localdate().year) if self.action == "list" else None
        branch = _visible_branch(self.request.user, params.get("branch")) if self.action == "list" else None
        qs = CalendarDay.objects.select_related("branch").order_by("day")
        if self.action != "list":
            return qs
        return qs.filter(branch=branch, day__year=year)

    def create(self, request, *args, **kwargs):
        _require_change(request.user)
        data = CalendarDayWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        branch = _visible_branch(request.user, values["branch"])
        entry = services.calendar_day_set(day=values["date"], kind=values["kind"], name=values["name"],
                                          branch=branch, actor=request.user)
        return Response(CalendarDaySerializer(entry).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        _require_change(request.user)
        try:
            entry = get_object_or_404(CalendarDay, pk=int(kwargs["pk"]))
        except (ValueError, OverflowError):
            raise Http404 from None
        services.calendar_day_remove(day=entry.day, branch=entry.branch, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WorkingHoursSerializer(serializers.ModelSerializer):
    branch = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = WorkingHours
        fields = ["branch", "week", "updated_at"]
        read_only_fields = fields


class WorkingHoursWriteSerializer(StrictMixin, serializers.Serializer):
    week = serializers.JSONField(help_text="Seven lists, Monday first, of [\"HH:MM\", \"HH:MM\"] intervals in order, "
                                           "e.g. [[\"09:00\", \"12:00\"], [\"13:30\", \"17:30\"]]; [] for a closed day.")


@extend_schema_view(
    list=extend_schema(summary="Branches that set their own working hours (the others inherit)"),
    update=extend_schema(request=WorkingHoursWriteSerializer, responses={200: WorkingHoursSerializer,
                                                                         403: HEAD_OFFICE_ONLY, 404: NOT_IN_SCOPE},
                         summary="Set a branch's working hours (head office)"),
    destroy=extend_schema(responses={204: None, 403: HEAD_OFFICE_ONLY, 404: OpenApiResponse(
                              description="No such branch in scope, or it sets no hours of its own.")},
                          summary="A branch inherits its working hours again (head office)"),
)
class WorkingHoursViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = WorkingHoursSerializer
    filter_backends = []
    lookup_field = "branch"
    lookup_value_regex = r"[A-Za-z0-9_-]+"
    required_scopes = {"list": READ}
    http_method_names = ["get", "put", "delete", "head", "options"]

    def get_queryset(self):
        return (WorkingHours.objects.select_related("branch").filter(branch__in=scope_of(self.request.user).branches())
                .order_by("branch__path"))

    def update(self, request, branch=None):
        _require_change(request.user)
        target = _visible_branch(request.user, branch)
        data = WorkingHoursWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        hours = services.working_hours_set(branch=target, week=data.validated_data["week"], actor=request.user)
        return Response(WorkingHoursSerializer(hours).data)

    def destroy(self, request, branch=None):
        _require_change(request.user)
        target = _visible_branch(request.user, branch)
        if not services.working_hours_clear(branch=target, actor=request.user):
            raise Http404
        return Response(status=status.HTTP_204_NO_CONTENT)


class CalendarYearSerializer(serializers.ModelSerializer):
    class Meta:
        model = CalendarYear
        fields = ["year", "source", "loaded_at"]


class YearDaySerializer(StrictMixin, serializers.Serializer):
    date = serializers.CharField(max_length=10, help_text="YYYY-MM-DD.")
    kind = serializers.CharField(max_length=10, help_text="holiday or workday (休 or 班).")
    name = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")


class CalendarYearLoadSerializer(StrictMixin, serializers.Serializer):
    year = serializers.IntegerField(min_value=1990, max_value=2100)
    days = YearDaySerializer(many=True, help_text="The whole year's days off and make-up working days.")


class LoadResultSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    days_off = serializers.IntegerField()
    workdays = serializers.IntegerField()
    added = serializers.IntegerField()
    removed = serializers.IntegerField()


@extend_schema_view(
    list=extend_schema(summary="The years whose schedule is held (other years are provisional)"),
    create=extend_schema(request=CalendarYearLoadSerializer, responses={201: LoadResultSerializer,
                                                                        403: HEAD_OFFICE_ONLY},
                         summary="Load a whole year's schedule (head office; replaces the year's bank-wide days)"),
)
class CalendarYearViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = CalendarYearSerializer
    filter_backends = []
    pagination_class = None
    queryset = CalendarYear.objects.order_by("year")
    required_scopes = {"list": READ}

    def create(self, request):
        _require_change(request.user)
        data = CalendarYearLoadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            counts = services.calendar_year_load(year=values["year"], actor=request.user,
                                                 rows=[(d["date"], d["kind"], d["name"]) for d in values["days"]])
        except ValidationFailed as refused:  # the service names the rows of a file; here they are "days"
            raise ValidationFailed(refused.message, fields={"days" if k == "file" else k: v
                                                            for k, v in refused.fields.items()}) from None
        return Response(LoadResultSerializer(counts).data, status=status.HTTP_201_CREATED)


ROUTES = [("calendar", CalendarViewSet, "calendar"), ("calendar-days", CalendarDayViewSet, "calendar-day"),
          ("working-hours", WorkingHoursViewSet, "working-hours"), ("calendar-years", CalendarYearViewSet,
                                                                     "calendar-year")]


def register(router):
    for prefix, viewset, basename in ROUTES:
        router.register(prefix, viewset, basename=basename)
