"""Server-rendered pages for RMs and supervisors: thin, calling selectors and services."""

import csv
import itertools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm_project.errors import DomainError, RateLimited
from crm_project.pagination import CappedPaginator

from . import rules, selectors, services
from .constants import SENSITIVE_CUSTOMER_FIELDS, TaskStatus
from .filters import CustomerFilter
from .forms import CustomerForm, DoneForm, InteractionForm, RevealForm, SnoozeForm
from .models import Customer
from .permissions import can

SORTS = {
    "aum": ("-aum_latest", "id"), "-aum": ("aum_latest", "id"), "name": ("name", "id"),
    "-name": ("-name", "-id"), "cif": ("cif",), "updated": ("-updated_at", "-id"),
}


def _visible_customer(request, pk) -> Customer:
    try:
        return selectors.customer_get(request.user, pk)
    except Customer.DoesNotExist:
        raise Http404 from None


def _add_errors(form, error: DomainError):
    if not error.fields:
        form.add_error(None, str(error.message))
    for field, msgs in error.fields.items():
        for msg in msgs if isinstance(msgs, list) else [msgs]:
            form.add_error(field if field in form.fields else None, msg)


@login_required
def customer_list(request):
    base = selectors.customers_visible_to(request.user).select_related("rm", "branch")
    filterset = CustomerFilter(request.GET, queryset=base, request=request)
    sort = request.GET.get("sort", "aum")
    qs = filterset.qs.order_by(*SORTS.get(sort, SORTS["aum"])) if filterset.is_valid() else base.none()
    page = CappedPaginator(qs, 25).get_page(request.GET.get("page"))
    for c in page.object_list:
        c.mobile_masked = rules.mask_mobile(c.mobile)
        c.id_masked = rules.mask_id_number(c.id_number or c.credit_code)
    query = request.GET.copy()
    query.pop("page", None)
    context = {"filter": filterset, "page": page, "sort": sort, "query": query.urlencode(),
               "can_add": can(request.user, "customers.add_customer"),
               "can_export": can(request.user, "customers.export_customers")}
    template = "customers/_list_table.html" if request.htmx and not request.htmx.boosted else "customers/list.html"
    return render(request, template, context)


def _history_rows(changes):
    """Field label and readable, masked old → new values for each recorded change (two queries at most)."""
    from org.models import Branch, User

    ids = {"rm": set(), "branch": set()}
    for entry in changes:
        for field in ("rm_id", "branch_id"):
            ids[field[:-3]].update(v for v in entry.changes.get(field, []) if v)
    names = {
        "rm": {u.pk: str(u) for u in User.objects.filter(pk__in=ids["rm"])} if ids["rm"] else {},
        "branch": dict(Branch.objects.filter(pk__in=ids["branch"]).values_list("pk", "name")) if ids["branch"] else {},
    }

    def readable(name, value):
        field = Customer._meta.get_field(name)
        if value in (None, "", []):
            return ""
        if name in names:
            return names[name].get(value, value)
        if name in rules.MASKERS:
            return rules.MASKERS[name](value)
        if field.choices:
            return dict(field.flatchoices).get(value, value)
        if isinstance(value, bool):
            return _("yes") if value else _("no")
        if isinstance(value, list):
            return ", ".join(value)
        return value

    for entry in changes:
        entry.masked_changes = [
            (Customer._meta.get_field(f.removesuffix("_id")).verbose_name,
             [readable(f.removesuffix("_id"), old), readable(f.removesuffix("_id"), new)])
            for f, (old, new) in entry.changes.items()]
    return changes


def _detail_context(request, customer, interaction_form):
    data = selectors.customer_360(customer)
    _history_rows(data["history"])
    for h in data["holdings"]:
        h.account_masked = rules.mask_account_no(h.account_no)
    return {
        "customer": customer, **data,
        "trend": {"periods": [s.period.strftime("%Y-%m") for s in data["trend"]],
                  "aum": [str(s.aum) for s in data["trend"]]},
        "masked": {f: rules.MASKERS[f](getattr(customer, f)) for f in ("id_number", "mobile", "credit_code")},
        "interaction_form": interaction_form,
        "can_edit": can(request.user, "customers.change_customer", customer),
        "can_reveal": can(request.user, "customers.reveal_pii", customer),
        "reveal_forms": {f: RevealForm(prefix=f) for f in SENSITIVE_CUSTOMER_FIELDS},
        "today": timezone.localdate(),
    }


class _Echo:
    def write(self, value):
        return value


@login_required
def customer_export(request):
    """The filtered customer list as CSV (masked); supervisors and head office only; logged."""
    if not can(request.user, "customers.export_customers"):
        raise PermissionDenied
    base = selectors.customers_visible_to(request.user)
    filterset = CustomerFilter(request.GET, queryset=base, request=request)
    qs = filterset.qs.order_by("id") if filterset.is_valid() else base.none()
    writer = csv.writer(_Echo())
    rows = services.customers_export_rows(actor=request.user, customers=qs, filters=request.GET.urlencode())
    first = next(rows)  # runs the permission check and writes the log before streaming starts
    response = StreamingHttpResponse(
        itertools.chain([writer.writerow(first)], (writer.writerow(r) for r in rows)),
        content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="customers.csv"'
    return response


@login_required
def customer_detail(request, pk):
    customer = _visible_customer(request, pk)
    form = InteractionForm(initial={"occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")})
    return render(request, "customers/detail.html", _detail_context(request, customer, form))


@login_required
def customer_create(request):
    if not can(request.user, "customers.add_customer"):
        raise PermissionDenied
    form = CustomerForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.customer_create(actor=request.user, data=form.changed_data_dict(),
                                                today=timezone.localdate())
        except DomainError as e:
            _add_errors(form, e)
        else:
            messages.success(request, _("Customer %(name)s created.") % {"name": customer.name})
            return redirect("customers:detail", pk=customer.pk)
    return render(request, "customers/form.html", {"form": form, "creating": True})


@login_required
def customer_edit(request, pk):
    customer = _visible_customer(request, pk)
    if not can(request.user, "customers.change_customer", customer):
        raise PermissionDenied
    form = CustomerForm(request.POST or None, instance=customer, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.customer_update(actor=request.user, customer=customer, data=form.changed_data_dict(),
                                     today=timezone.localdate())
        except DomainError as e:
            _add_errors(form, e)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("customers:detail", pk=customer.pk)
    return render(request, "customers/form.html", {"form": form, "customer": customer, "creating": False})


@login_required
@require_POST
def customer_reveal(request, pk, field):
    """The reveal form's answer: an auto-escaped fragment that replaces the masked value, its button and form
    with the full value as text (never HTML); the form again with its errors (200, as htmx swaps it), or the
    reason a reveal is refused for now (429). The reason is logged with the reveal."""
    customer = _visible_customer(request, pk)
    if field not in SENSITIVE_CUSTOMER_FIELDS or not getattr(customer, field):
        raise Http404
    if not can(request.user, "customers.reveal_pii", customer):
        raise PermissionDenied
    form = RevealForm(request.POST, prefix=field)
    context = {"customer": customer, "field": field, "value": rules.MASKERS[field](getattr(customer, field)),
               "can_reveal": True, "reveal_form": form}
    status = 200
    if form.is_valid():
        try:
            context["revealed"] = services.pii_reveal(
                actor=request.user, customer=customer, field=field, reason=form.cleaned_data["reason"],
                detail=form.cleaned_data["reason_detail"])
        except RateLimited as e:
            context["refused"], status, retry_after = str(e.message), 429, e.retry_after
        except DomainError as e:
            _add_errors(form, e)
    response = render(request, "customers/_pii.html", context, status=status)
    if status == 429:
        response["Retry-After"] = str(retry_after)
    return response


@login_required
@require_POST
def interaction_create(request, pk):
    customer = _visible_customer(request, pk)
    form = InteractionForm(request.POST)
    if form.is_valid():
        try:
            services.interaction_log(actor=request.user, customer=customer, data=form.cleaned_data,
                                     now=timezone.now())
        except DomainError as e:
            _add_errors(form, e)
        else:
            messages.success(request, _("Interaction recorded."))
            if form.cleaned_data.get("next_follow_up"):
                messages.info(request, _("A follow-up task was created for %(date)s.")
                              % {"date": form.cleaned_data["next_follow_up"].isoformat()})
            return redirect("customers:detail", pk=customer.pk)
    return render(request, "customers/detail.html", _detail_context(request, customer, form), status=400)


@login_required
def task_list(request):
    status = request.GET.get("status", TaskStatus.OPEN)
    if status not in TaskStatus.values:
        status = TaskStatus.OPEN
    page = CappedPaginator(selectors.my_tasks(request.user, status=status), 25).get_page(request.GET.get("page"))
    return render(request, "customers/tasks.html", {
        "page": page, "status": status, "statuses": TaskStatus.choices, "today": timezone.localdate(),
        "snooze_form": SnoozeForm(), "done_form": DoneForm(),
    })


def _visible_task(request, pk):
    return get_object_or_404(selectors.tasks_visible_to(request.user), pk=pk)


@login_required
@require_POST
def task_done(request, pk):
    task = _visible_task(request, pk)
    form = DoneForm(request.POST)
    if form.is_valid():
        try:
            services.task_complete(actor=request.user, task=task, outcome=form.cleaned_data["outcome"],
                                   now=timezone.now())
            messages.success(request, _("Task done."))
        except DomainError as e:
            messages.error(request, str(e.message))
    else:
        messages.error(request, "; ".join(m for ms in form.errors.values() for m in ms))
    return redirect("customers:tasks")


@login_required
@require_POST
def task_snooze(request, pk):
    task = _visible_task(request, pk)
    form = SnoozeForm(request.POST)
    if form.is_valid():
        try:
            services.task_snooze(actor=request.user, task=task, until=form.cleaned_data["until"],
                                 today=timezone.localdate())
            messages.success(request, _("Task snoozed."))
        except DomainError as e:
            messages.error(request, "; ".join(m for ms in e.fields.values() for m in ms) or str(e.message))
    else:
        messages.error(request, "; ".join(m for ms in form.errors.values() for m in ms))
    return redirect("customers:tasks")
