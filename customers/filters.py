"""FilterSets shared by the HTML list pages and the API."""

import datetime as dt

import django_filters
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from org.access import branch_subtree_ids
from org.models import Branch, User
from org.selectors import branches_visible_to, staff_visible_to

from . import rules
from .constants import CustomerKind, LifecycleStage, RiskLevel, TaskStatus
from .models import Customer, FinancialSnapshot, FollowUpTask, Holding, Interaction
from .selectors import customer_search


def _date_bounds(value):
    if value is not None and not rules.date_in_bounds(value):
        raise ValidationError(rules.DATE_BOUNDS_MESSAGE, code="date_bounds")


def _staff_choices(request):
    return staff_visible_to(request.user) if request else User.objects.none()


def _branch_choices(request):
    return branches_visible_to(request.user) if request else Branch.objects.none()


class CustomerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Search"),
                                  help_text=_("Name fragment, CIF, mobile (or its last 4 digits) or ID number."))
    kind = django_filters.ChoiceFilter(choices=CustomerKind.choices, label=_("Customer type"))
    rm = django_filters.ModelChoiceFilter(queryset=_staff_choices, label=_("Relationship manager"))
    branch = django_filters.ModelChoiceFilter(queryset=_branch_choices, method="filter_branch",
                                              label=_("Branch (with its outlets)"))
    lifecycle_stage = django_filters.ChoiceFilter(choices=LifecycleStage.choices, label=_("Lifecycle stage"))
    risk_level = django_filters.ChoiceFilter(choices=RiskLevel.choices, label=_("Risk tolerance"))
    tag = django_filters.CharFilter(method="filter_tag", label=_("Tag"), max_length=30)
    aum_min = django_filters.NumberFilter(field_name="aum_latest", lookup_expr="gte", label=_("AUM from"))
    aum_max = django_filters.NumberFilter(field_name="aum_latest", lookup_expr="lte", label=_("AUM to"))

    class Meta:
        model = Customer
        fields = []

    def filter_q(self, queryset, name, value):
        return customer_search(queryset, value)

    def filter_branch(self, queryset, name, value):
        return queryset.filter(branch_id__in=branch_subtree_ids(value.pk)) if value else queryset

    def filter_tag(self, queryset, name, value):
        return queryset.filter(tags__contains=[value.strip()]) if value.strip() else queryset


class SnapshotFilter(django_filters.FilterSet):
    customer = django_filters.NumberFilter(field_name="customer_id", label=_("Customer id"))
    cif = django_filters.CharFilter(field_name="customer__cif", label=_("CIF"))
    period_from = django_filters.DateFilter(field_name="period", lookup_expr="gte", label=_("Period from"),
                                            validators=[_date_bounds])
    period_to = django_filters.DateFilter(field_name="period", lookup_expr="lte", label=_("Period to"),
                                          validators=[_date_bounds])

    class Meta:
        model = FinancialSnapshot
        fields = []


class HoldingFilter(django_filters.FilterSet):
    customer = django_filters.NumberFilter(field_name="customer_id", label=_("Customer id"))
    cif = django_filters.CharFilter(field_name="customer__cif", label=_("CIF"))

    class Meta:
        model = Holding
        fields = ["product_type", "status"]


class InteractionFilter(django_filters.FilterSet):
    customer = django_filters.NumberFilter(field_name="customer_id", label=_("Customer id"))
    since = django_filters.IsoDateTimeFilter(method="filter_since", label=_("Since"), validators=[_date_bounds])

    class Meta:
        model = Interaction
        fields = ["channel", "outcome", "staff"]


    def filter_since(self, queryset, name, value):
        # Offsets beyond ±15:59 are valid ISO 8601 but not for PostgreSQL: compare in UTC.
        return queryset.filter(occurred_at__gte=value.astimezone(dt.UTC)) if value else queryset


class TaskFilter(django_filters.FilterSet):
    customer = django_filters.NumberFilter(field_name="customer_id", label=_("Customer id"))
    status = django_filters.ChoiceFilter(choices=TaskStatus.choices, label=_("Status"))
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lte", label=_("Due on or before"),
                                           validators=[_date_bounds])

    class Meta:
        model = FollowUpTask
        fields = ["assignee"]
