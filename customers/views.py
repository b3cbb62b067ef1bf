"""Server-rendered pages for RMs and supervisors: thin, calling selectors and services."""

import itertools
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from core import exports, ratelimit
from core.errors import Conflict, DomainError, NotPermitted, PreconditionFailed, RateLimited, ValidationFailed
from core.forms import add_domain_errors
from core.pagination import CappedPaginator
from org.permissions import can

from . import extensions, rules, selectors, services
from .constants import SENSITIVE_CUSTOMER_FIELDS, TaskStatus
from .filters import CustomerFilter
from .forms import CustomerForm, DoneForm, InteractionForm, RevealForm, SnoozeForm, TaskForm
from .models import Customer

SORTS = {
    "aum": ("-aum_latest", "id"), "-aum": ("aum_latest", "id"), "name": ("name", "id"),
    "-name": ("-name", "-id"), "cif": ("cif",), "updated": ("-updated_at", "-id"),
}


def _visible_customer(request, pk) -> Customer:
    try:
        return selectors.customer_get(request.user, pk)
    except Customer.DoesNotExist:
        raise Http404 from None


def _add_check_errors(form, user, customer=None):
    """A customer form with field errors also shows the service's errors for the fields that did clean, so one
    submit shows every error (nothing is saved)."""
    data = {f: v for f, v in form.changed_data_dict().items() if f not in form.errors}
    errors = services.customer_errors(actor=user, data=data, today=timezone.localdate(), customer=customer)
    errors = {f: m for f, m in errors.items() if f in data or f not in form.fields}
    if errors:
        add_domain_errors(form, ValidationFailed(fields=errors))


def _listed_customers(request, base):
    """The customers the list shows for this request (its filters, search and sort): the list and its export."""
    filterset = CustomerFilter(request.GET, queryset=base, request=request)
    sort = request.GET.get("sort", "aum")
    qs = filterset.qs.order_by(*SORTS.get(sort, SORTS["aum"])) if filterset.is_valid() else base.none()
    return filterset, sort, qs


@login_required
def customer_list(request):
    base = selectors.customers_visible_to(request.user).select_related("rm", "branch")
    filterset, sort, qs = _listed_customers(request, base)
    page = CappedPaginator(qs, 25).get_page(request.GET.get("page"))
    for c in page.object_list:
        c.mobile_masked = rules.mask_mobile(c.mobile)
        c.id_masked = rules.mask_id_number(c.id_number or c.credit_code)
    query = request.GET.copy()
    query.pop("page", None)
    context = {"filter": filterset, "page": page, "sort": sort, "query": query.urlencode(),
               "extra_filters": [filterset.form[name] for name in extensions.filter_names()],
               "can_add": can(request.user, "customers.add_customer"),
               "can_export": can(request.user, "customers.export_customers")}
    template = "customers/_list_table.html" if request.htmx and not request.htmx.boosted else "customers/list.html"
    return render(request, template, context)


def _task_forms(task, *, done_form=None, snooze_form=None):
    """The complete and snooze forms of one open task on the customer page (ids unique per task)."""
    auto_id = f"id_task{task.pk}_%s"
    task.done_form = done_form or DoneForm(auto_id=auto_id)
    task.snooze_form = snooze_form or SnoozeForm(auto_id=auto_id)
    return task


def _detail_context(request, customer, interaction_form, *, task_form=None, failed_task=None):
    """``failed_task``: (task id, bound done form or None, bound snooze form or None) to show inline."""
    view = selectors.customer_360(customer)
    for t in view.open_tasks:
        if failed_task and failed_task[0] == t.pk:
            _task_forms(t, done_form=failed_task[1], snooze_form=failed_task[2])
        else:
            _task_forms(t)
    today = timezone.localdate()
    return {
        "customer": view.customer, "masked": view.masked, "trend": view.trend, "holdings": view.holdings,
        "interactions": view.interactions, "open_tasks": view.open_tasks, "history": view.history,
        "interaction_form": interaction_form,
        "can_edit": can(request.user, "customers.change_customer", customer),
        "can_reveal": can(request.user, "customers.reveal_pii", customer),
        "can_act": can(request.user, "customers.log_interaction", customer),
        "task_form": task_form or TaskForm(initial={"due_date": today + timedelta(days=7)}),
        "reveal_forms": {f: RevealForm(prefix=f) for f in SENSITIVE_CUSTOMER_FIELDS},
        "today": today,
        "panels": extensions.panels(request, customer),
    }


@login_required
def customer_export(request):
    """Exactly what the customer list shows (same filters, search and sort), as CSV (UTF-8 with BOM) or .xlsx:
    labels in the user's language, sensitive values masked, formula cells neutralised (core.exports).
    Supervisors and head office only; logged; throttled per user (CRM_EXPORT_RATE)."""
    if not can(request.user, "customers.export_customers"):
        raise PermissionDenied
    file_format = request.GET.get("format", "csv")
    if file_format not in services.EXPORT_FORMATS:
        file_format = "csv"
    query = request.GET.copy()
    for param in ("page", "format"):
        query.pop(param, None)
    allowed = ratelimit.hit("export", request.user.pk, ratelimit.Rate.parse(settings.CRM_EXPORT_RATE))
    if not allowed.allowed:
        minutes = max(1, round(allowed.retry_after / 60))
        messages.error(request, ngettext(
            "You have made the most exports allowed in this period (%(rate)s); try again in %(minutes)d minute.",
            "You have made the most exports allowed in this period (%(rate)s); try again in %(minutes)d minutes.",
            minutes) % {"rate": settings.CRM_EXPORT_RATE, "minutes": minutes})
        response = redirect(f"{reverse('customers:list')}?{query.urlencode()}")
        response["Retry-After"] = str(allowed.retry_after)
        return response
    _filterset, _sort, qs = _listed_customers(request, selectors.customers_visible_to(request.user))
    filters = {k: ", ".join(v) for k, v in query.lists()}
    rows = services.customers_export_rows(actor=request.user, customers=qs, filters=filters, file_format=file_format)
    header = next(rows)  # runs the permission check, writes the log and resolves the labels before streaming
    name = f"customers-{timezone.localdate():%Y%m%d}"
    return exports.download(itertools.chain([header], rows), name=name, file_format=file_format,
                            title=_("Customers"))


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
    if request.method == "POST" and not form.is_valid():
        _add_check_errors(form, request.user)
    elif request.method == "POST":
        try:
            customer = services.customer_create(actor=request.user, data=form.changed_data_dict(),
                                                today=timezone.localdate())
        except DomainError as e:
            add_domain_errors(form, e)
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
    if request.method == "POST" and not form.is_valid():
        _add_check_errors(form, request.user, customer)
    elif request.method == "POST":
        try:
            services.customer_update(actor=request.user, customer=customer, data=form.changed_data_dict(),
                                     today=timezone.localdate(), expected_version=form.cleaned_data.get("version"))
        except PreconditionFailed:
            # What the user typed stays in the form; the page keeps the old version until it is reloaded.
            form.add_error(None, _("Someone else changed this customer since you opened the page: nothing was "
                                   "saved. Reload the page to see their changes, then make yours again."))
        except DomainError as e:
            add_domain_errors(form, e)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("customers:detail", pk=customer.pk)
    return render(request, "customers/form.html", {"form": form, "customer": customer, "creating": False})


@login_required
@require_POST
def customer_tags(request, pk):
    """Add one or more tags (comma-separated) or remove one, from the 360 page, without touching the others."""
    customer = _visible_customer(request, pk)
    if not can(request.user, "customers.change_customer", customer):
        raise PermissionDenied
    add = [t for t in request.POST.get("add", "").replace("，", ",").split(",") if t.strip()]
    try:
        services.customer_tags_change(actor=request.user, customer=customer, add=add,
                                      remove=request.POST.getlist("remove"))
    except DomainError as e:
        for msgs in (e.fields or {None: [e.message]}).values():
            for msg in msgs:
                messages.error(request, msg)
    return redirect("customers:detail", pk=customer.pk)


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
            add_domain_errors(form, e)
    response = render(request, "customers/_pii.html", context, status=status)
    if status == 429:
        response["Retry-After"] = str(retry_after)
    return response


@login_required
@require_POST
def interaction_create(request, pk):
    customer = _visible_customer(request, pk)
    form = InteractionForm(request.POST)
    if not form.is_valid():  # also the service's checks on the fields that cleaned: every error at once
        data = {f: v for f, v in form.cleaned_data.items() if f not in form.errors}
        errors = services.interaction_errors(customer=customer, data=data, now=timezone.now())
        errors = {f: m for f, m in errors.items() if f in data}
        if errors:
            add_domain_errors(form, ValidationFailed(fields=errors))
    else:
        try:
            services.interaction_log(actor=request.user, customer=customer, data=form.cleaned_data,
                                     now=timezone.now())
        except DomainError as e:
            add_domain_errors(form, e)
        else:
            messages.success(request, _("Interaction recorded."))
            if form.cleaned_data.get("next_follow_up"):
                messages.info(request, _("A follow-up task was created for %(date)s.")
                              % {"date": form.cleaned_data["next_follow_up"].isoformat()})
            return redirect("customers:detail", pk=customer.pk)
    return render(request, "customers/detail.html", _detail_context(request, customer, form), status=400)


def _customer_task(request, customer, task_pk):
    return get_object_or_404(selectors.tasks_visible_to(request.user), pk=task_pk, customer=customer)


def _customer_page_error(request, customer, **forms):
    return render(request, "customers/detail.html", _detail_context(request, customer, InteractionForm(
        initial={"occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")}), **forms), status=400)


def _task_action(request, customer, form, action, *, done, failed, rename=None):
    """Run one task action from the customer page: back to the page with ``done``, or the page again with the
    form's errors (400). A task closed meanwhile is no longer on the page, so its conflict comes as a message."""
    if form.is_valid():
        try:
            action(form.cleaned_data)
        except NotPermitted:
            raise PermissionDenied from None
        except Conflict as e:
            messages.error(request, str(e.message))
            return redirect("customers:detail", pk=customer.pk)
        except DomainError as e:
            add_domain_errors(form, e, rename=rename)
        else:
            messages.success(request, done)
            return redirect("customers:detail", pk=customer.pk)
    return _customer_page_error(request, customer, **failed)


@login_required
@require_POST
def customer_task_create(request, pk):
    """Add a follow-up task from the customer page; errors are shown inline on that page."""
    customer = _visible_customer(request, pk)
    form = TaskForm(request.POST)
    return _task_action(request, customer, form, lambda data: services.task_create(
        actor=request.user, customer=customer, title=data["title"], due_date=data["due_date"],
        today=timezone.localdate()), done=_("Task added."), failed={"task_form": form})


@login_required
@require_POST
def customer_task_done(request, pk, task_pk):
    """Complete one of the customer's open tasks from the customer page."""
    customer = _visible_customer(request, pk)
    task = _customer_task(request, customer, task_pk)
    form = DoneForm(request.POST, auto_id=f"id_task{task.pk}_%s")
    return _task_action(request, customer, form, lambda data: services.task_complete(
        actor=request.user, task=task, outcome=data["outcome"], now=timezone.now()),
        done=_("Task done."), failed={"failed_task": (task.pk, form, None)})


@login_required
@require_POST
def customer_task_snooze(request, pk, task_pk):
    """Move one of the customer's open tasks to a later day from the customer page."""
    customer = _visible_customer(request, pk)
    task = _customer_task(request, customer, task_pk)
    form = SnoozeForm(request.POST, auto_id=f"id_task{task.pk}_%s")
    return _task_action(request, customer, form, lambda data: services.task_snooze(
        actor=request.user, task=task, until=data["until"], today=timezone.localdate()),
        done=_("Task snoozed."), failed={"failed_task": (task.pk, None, form)}, rename={"due_date": "until"})


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


def _task_list_action(request, form, action, *, done):
    """Run one task action from the task list: back to the list with ``done`` or with what was wrong."""
    if form.is_valid():
        try:
            action(form.cleaned_data)
        except DomainError as e:
            messages.error(request, "; ".join(m for ms in e.fields.values() for m in ms) or str(e.message))
        else:
            messages.success(request, done)
    else:
        messages.error(request, "; ".join(m for ms in form.errors.values() for m in ms))
    return redirect("customers:tasks")


@login_required
@require_POST
def task_done(request, pk):
    task = _visible_task(request, pk)
    return _task_list_action(request, DoneForm(request.POST), lambda data: services.task_complete(
        actor=request.user, task=task, outcome=data["outcome"], now=timezone.now()), done=_("Task done."))


@login_required
@require_POST
def task_snooze(request, pk):
    task = _visible_task(request, pk)
    return _task_list_action(request, SnoozeForm(request.POST), lambda data: services.task_snooze(
        actor=request.user, task=task, until=data["until"], today=timezone.localdate()), done=_("Task snoozed."))
