"""Segmentation pages: book (see views/__init__.py): the tier panel on the customer page (registered in apps.py
through customers.extensions), the overdue-contacts list, the downgrade watch and overrides on a customer."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.errors import Conflict, DomainError, NotPermitted
from core.forms import add_domain_errors
from customers import selectors as customer_selectors
from customers.models import Customer
from org.permissions import can
from org.selectors import staff_visible_to

from .. import selectors, services
from ..forms import OverrideForm


def tier_panel(request, customer) -> str:
    """The customer page's tier panel (customers.extensions.customer_panel): "" for whoever may not see tiers."""
    if not can(request.user, "segmentation.view_assignment"):
        return ""
    tiers = selectors.customer_tiers(request.user, customer, today=timezone.localdate())
    return render_to_string("segmentation/book_panel.html", {
        "customer": customer, "tiers": tiers, "can_override": can(request.user, "segmentation.override_tier"),
    }, request=request)


class RmFilterForm(forms.Form):
    rm = forms.ModelChoiceField(queryset=None, required=False, label=gettext_lazy("Relationship manager"),
                                empty_label=gettext_lazy("Every RM"),
                                widget=forms.Select(attrs={"class": "form-select form-select-sm"}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rm"].queryset = staff_visible_to(user)


def _list_context(request):
    """(whether the viewer sees several RMs, the RM filter form, the RM id it chose or None)."""
    if not can(request.user, "segmentation.view_watch"):
        raise PermissionDenied
    several = can(request.user, "segmentation.view_supervision")
    form = RmFilterForm(request.GET or None, user=request.user)
    rm = form.cleaned_data.get("rm") if several and form.is_valid() else None
    chosen = str(rm.pk) if rm else ("" if several else str(request.user.pk))  # an RM sees their own book only
    asked = request.GET.get("rm", "")
    if asked and asked != chosen:
        raise Http404  # an RM outside the viewer's scope (or not an RM at all): no hint that they exist
    query = request.GET.copy()
    query.pop("page", None)
    return several, form, (rm.pk if rm else None), query.urlencode()


@login_required
def overdue(request):
    """Customers whose last contact is older than their tier's interval (or never), most overdue first."""
    several, form, rm_id, query = _list_context(request)
    today = timezone.localdate()
    page = selectors.overdue_contacts(request.user, today=today, rm_id=rm_id, page=request.GET.get("page"))
    per_rm = selectors.overdue_per_rm(request.user, today=today) if several else []
    return render(request, "segmentation/book_overdue.html", {
        "page": page, "per_rm": per_rm, "several": several, "form": form, "query": query, "today": today})


@login_required
def downgrade_watch(request):
    """Customers below their card tier: runs left before the downgrade and the AUM that keeps the tier."""
    several, form, rm_id, query = _list_context(request)
    page = selectors.downgrade_watch(request.user, rm_id=rm_id, page=request.GET.get("page"))
    return render(request, "segmentation/book_watch.html", {
        "page": page, "several": several, "form": form, "query": query})


def _visible_customer(request, pk) -> Customer:
    try:
        return customer_selectors.customer_get(request.user, pk)
    except Customer.DoesNotExist:
        raise Http404 from None


@login_required
def override_set(request, pk):
    """Pin a customer's tiers: the form, then a confirmation page (old → new), then the service."""
    customer = _visible_customer(request, pk)
    if not can(request.user, "segmentation.override_tier"):
        raise PermissionDenied
    today = timezone.localdate()
    form = OverrideForm(request.POST or None, today=today)
    tiers = selectors.customer_tiers(request.user, customer, today=today)
    context = {"customer": customer, "tiers": tiers, "form": form}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if not data["confirm"]:
            return render(request, "segmentation/override_confirm.html", {
                **context, "value_label": selectors.VALUE_LABELS.get(data["value_tier"], ""),
                "card_label": selectors.CARD_LABELS.get(data["card_tier"], "")})
        try:
            services.override_set(actor=request.user, customer=customer, value_tier=data["value_tier"],
                                  card_tier=data["card_tier"], reason=data["reason"], expires_on=data["expires_on"],
                                  today=today)
        except NotPermitted:
            raise PermissionDenied from None
        except DomainError as e:
            add_domain_errors(form, e)
        else:
            messages.success(request, _("The tier is pinned until %(date)s.") % {"date": data["expires_on"].isoformat()})
            return redirect("customers:detail", pk=customer.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "segmentation/override_form.html", context, status=status)


@login_required
def override_end(request, pk):
    """End an active override early: a confirmation page (GET), then the service (POST)."""
    override = get_object_or_404(selectors.overrides_visible_to(request.user), pk=pk, ended_at__isnull=True)
    if not can(request.user, "segmentation.override_tier"):
        raise PermissionDenied
    if request.method == "POST":
        try:
            services.override_end(actor=request.user, override=override)
        except NotPermitted:
            raise PermissionDenied from None
        except Conflict:
            messages.error(request, _("This override has already ended."))
        else:
            messages.success(request, _("Override ended: the computed tiers apply again."))
        return redirect("customers:detail", pk=override.customer_id)
    return render(request, "segmentation/override_end.html", {
        "override": selectors.override_view(override), "customer": override.customer})


urlpatterns = [
    path("overdue/", overdue, name="overdue"),
    path("downgrade-watch/", downgrade_watch, name="downgrade-watch"),
    path("customers/<int:pk>/override/", override_set, name="override-set"),
    path("overrides/<int:pk>/end/", override_end, name="override-end"),
]
