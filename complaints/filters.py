"""The complaint queue's filters, shared by the page and ``/api/v1/complaints/`` (django-filter)."""

import django_filters
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from org.access import branch_subtree_ids, complaint_scope_of
from org.models import Branch, User

from . import selectors
from .constants import Channel, Priority, SlaState, Status
from .models import Category, Complaint

OPEN = "open"
STATUS_CHOICES = [(OPEN, _("Open (any open status)")), *Status.choices]
ORDERINGS = {
    "due": (F("resolution_due").asc(nulls_last=True), "id"),
    "received": ("-received_at", "-id"),
    "regulatory": ("regulatory_due_date", "id"),
    "escalation": ("-escalation_level", F("resolution_due").asc(nulls_last=True), "id"),
}
ORDERING_CHOICES = [("due", _("Service deadline, soonest first")), ("received", _("Received, newest first")),
                    ("regulatory", _("Regulatory deadline, soonest first")),
                    ("escalation", _("Escalation level, highest first"))]


YES_NO = [("true", _("Yes")), ("false", _("No"))]


def _yes(value) -> bool | None:
    return {"true": True, "false": False}.get(str(value).lower())


def _handlers(request):
    return selectors.complaint_handlers(request.user) if request else User.objects.none()


def _branches(request):
    return complaint_scope_of(request.user).branches() if request else Branch.objects.none()


def _categories(request):
    return Category.objects.select_related("parent")


class ComplaintFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", max_length=30, label=_("Number"),
                                  help_text=_("A complaint number or its beginning."))
    status = django_filters.ChoiceFilter(choices=STATUS_CHOICES, method="filter_status", label=_("Status"))
    sla_state = django_filters.ChoiceFilter(choices=SlaState.choices, label=_("SLA state"))
    category = django_filters.ModelChoiceFilter(queryset=_categories, method="filter_category",
                                                label=_("Category"), help_text=_("A category with its sub-categories."))
    channel = django_filters.ChoiceFilter(choices=Channel.choices, label=_("Channel"))
    priority = django_filters.ChoiceFilter(choices=Priority.choices, label=_("Priority"))
    handler = django_filters.ModelChoiceFilter(queryset=_handlers, label=_("Handler"))
    unassigned = django_filters.ChoiceFilter(choices=YES_NO, method="filter_unassigned",
                                             label=_("Unassigned"), empty_label=_("All"))
    branch = django_filters.ModelChoiceFilter(queryset=_branches, method="filter_branch",
                                              label=_("Branch (with its outlets)"))
    overdue = django_filters.ChoiceFilter(choices=YES_NO, method="filter_overdue",
                                               label=_("Overdue"), empty_label=_("All"),
                                           help_text=_("Open and past the service deadline or the regulatory "
                                                       "deadline."))
    received_from = django_filters.DateFilter(field_name="received_at", lookup_expr="date__gte",
                                              label=_("Received from"))
    received_to = django_filters.DateFilter(field_name="received_at", lookup_expr="date__lte",
                                            label=_("Received to"))
    customer = django_filters.NumberFilter(field_name="customer_id", label=_("Customer id"))
    ordering = django_filters.ChoiceFilter(choices=ORDERING_CHOICES, method="filter_ordering", label=_("Sort"),
                                           empty_label=None)

    class Meta:
        model = Complaint
        fields = []

    def filter_q(self, queryset, name, value):
        value = value.strip().upper()
        return queryset.filter(number__startswith=value) if value else queryset

    def filter_status(self, queryset, name, value):
        if value == OPEN:
            return queryset.filter(status__in=selectors.OPEN_STATUSES)
        return queryset.filter(status=value) if value else queryset

    def filter_category(self, queryset, name, value):
        if not value:
            return queryset
        ids = [value.pk, *Category.objects.filter(parent=value).values_list("pk", flat=True)]
        return queryset.filter(category_id__in=ids)  # the ids first: an OR over the join reads every complaint

    def filter_branch(self, queryset, name, value):
        return queryset.filter(branch_id__in=branch_subtree_ids(value.pk)) if value else queryset

    def filter_unassigned(self, queryset, name, value):
        value = _yes(value)
        return queryset if value is None else queryset.filter(handler__isnull=value)

    def filter_overdue(self, queryset, name, value):
        value = _yes(value)
        if value is None:
            return queryset
        now = timezone.now()
        late = Q(status__in=selectors.OPEN_STATUSES) & (
            Q(sla_state=SlaState.BREACHED) | Q(resolution_due__lt=now, sla_state__in=[SlaState.ON_TRACK,
                                                                                      SlaState.AT_RISK])
            | Q(regulatory_due_date__lt=timezone.localdate(now)))
        return queryset.filter(late) if value else queryset.exclude(late)

    def filter_ordering(self, queryset, name, value):
        return queryset.order_by(*ORDERINGS.get(value or "due", ORDERINGS["due"]))

    @property
    def qs(self):
        qs = super().qs
        if not self.form.cleaned_data.get("ordering"):
            qs = qs.order_by(*ORDERINGS["due"])
        return qs
