"""Segmentation filters: the tier filters segmentation adds to the customer list and the customers API
(``customers.extensions.customer_filter``, registered in apps.py), and the assignments API's FilterSet.

The customer filters are EXISTS on the run in force's rows (``selectors.current_assignment_exists``): one
statement whatever the page size, and the customer query stays scoped as it was."""

import django_filters
from django.utils.translation import gettext_lazy as _

from customers.constants import LifecycleStage
from org.access import branch_subtree_ids
from org.models import Branch, User
from org.selectors import branches_visible_to, staff_visible_to

from . import selectors
from .constants import CardTier, ValueTier
from .models import Assignment

YES_NO = [("true", _("Yes")), ("false", _("No"))]


def _exists(field, value=None):
    def method(queryset, name, chosen):
        if chosen in (None, ""):
            return queryset
        wanted = (chosen == "true") if value is bool else chosen
        return queryset.filter(selectors.current_assignment_exists(**{field: wanted}))
    return method


def customer_filters() -> dict[str, django_filters.Filter]:
    """Name → filter, for ``customers.extensions.customer_filter``."""
    return {
        "value_tier": django_filters.ChoiceFilter(choices=ValueTier.choices, method=_exists("value_tier"),
                                                  label=_("Value tier"),
                                                  help_text=_("The value tier in force (latest segmentation run).")),
        "card_tier": django_filters.ChoiceFilter(choices=CardTier.choices, method=_exists("card_tier"),
                                                 label=_("Card tier"),
                                                 help_text=_("The card tier in force (latest segmentation run).")),
        "potential": django_filters.ChoiceFilter(choices=YES_NO, method=_exists("potential", bool),
                                                 label=_("Upgrade potential"),
                                                 help_text=_("Ordinary and small customers with (true) or without "
                                                             "(false) upgrade potential.")),
        "lifecycle": django_filters.ChoiceFilter(choices=LifecycleStage.choices, method=_exists("lifecycle"),
                                                 label=_("Lifecycle (segmentation)"),
                                                 help_text=_("The lifecycle stage the latest segmentation run "
                                                             "derived.")),
        "exit_review": django_filters.ChoiceFilter(choices=YES_NO, method=_exists("exit_review", bool),
                                                   label=_("Exit review"),
                                                   help_text=_("Flagged (true) or not (false) for relationship "
                                                               "exit review.")),
    }


def _staff_choices(request):
    return staff_visible_to(request.user) if request else User.objects.none()


def _branch_choices(request):
    return branches_visible_to(request.user) if request else Branch.objects.none()


class AssignmentFilter(django_filters.FilterSet):
    """The assignments API: tiers, flags, branch (with its outlets), RM, customer (id or CIF), run."""

    value_tier = django_filters.ChoiceFilter(choices=ValueTier.choices, label=_("Value tier"))
    card_tier = django_filters.ChoiceFilter(choices=CardTier.choices, label=_("Card tier"))
    potential = django_filters.BooleanFilter(label=_("Upgrade potential"))
    lifecycle = django_filters.ChoiceFilter(choices=LifecycleStage.choices, label=_("Lifecycle stage"))
    exit_review = django_filters.BooleanFilter(label=_("Exit review"))
    overridden = django_filters.BooleanFilter(label=_("Pinned by an override"))
    branch = django_filters.ModelChoiceFilter(queryset=_branch_choices, method="filter_branch",
                                              label=_("Branch (with its outlets)"))
    rm = django_filters.ModelChoiceFilter(queryset=_staff_choices, label=_("Relationship manager"))
    customer = django_filters.NumberFilter(field_name="customer_id", label=_("Customer id"))
    cif = django_filters.CharFilter(field_name="customer__cif", label=_("CIF"))
    run = django_filters.NumberFilter(field_name="run_id", label=_("Run id"))

    class Meta:
        model = Assignment
        fields = []

    def filter_branch(self, queryset, name, value):
        return queryset.filter(branch_id__in=branch_subtree_ids(value.pk)) if value else queryset
