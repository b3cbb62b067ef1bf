"""Complaint pages: the queue, intake (also from the customer page), one complaint with its timeline and every
action, the supervisor board and the regulator-style register export. Thin: a form, a selector or a service, a
template; the service's refusals are shown beside the fields; a conflict (someone changed the complaint meanwhile,
or the status no longer allows the action) is a message on the page with what was typed kept."""

from __future__ import annotations

import itertools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from core import exports
from core.errors import Conflict, DomainError, NotPermitted
from core.forms import add_domain_errors
from core.pagination import CappedPaginator
from customers.models import Customer
from org.access import complaint_scope_of
from org.models import Branch
from org.permissions import can, require

from . import forms, selectors, services
from .constants import Action, SlaState
from .filters import ComplaintFilter
from .models import Complaint, Extension

PER_PAGE = 25


# ---- the queue ------------------------------------------------------------------------------------------------------

@login_required
def queue(request):
    """The complaints the viewer sees, open ones by default, the soonest service deadline first, with live SLA
    badges (a countdown to the deadline, coloured by state) and the filters of the API."""
    require(request.user, "complaints.view_complaint")
    data = request.GET.copy()
    data.setdefault("status", "open")
    filterset = ComplaintFilter(data, queryset=selectors.queue_queryset(request.user), request=request)
    qs = filterset.qs if filterset.is_valid() else selectors.queue_queryset(request.user).none()
    page = CappedPaginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    now = timezone.now()
    page.object_list = selectors.queue_rows(request.user, page.object_list, now=now)
    query = data.copy()
    query.pop("page", None)
    return render(request, "complaints/queue.html", {
        "filter": filterset, "page": page, "query": query.urlencode(), "now": now,
        "can_add": can(request.user, "complaints.add_complaint"),
        "can_board": can(request.user, "complaints.view_board"),
        "can_export": can(request.user, "complaints.export_complaints")})


# ---- intake ---------------------------------------------------------------------------------------------------------

def _intake_customer(request) -> Customer | None:
    raw = request.GET.get("customer") or request.POST.get("customer")
    if not raw:
        return None
    try:
        return selectors.complainable_customers(request.user).select_related("branch").get(pk=int(raw))
    except (ValueError, OverflowError, Customer.DoesNotExist):
        raise Http404 from None


@login_required
def intake(request):
    """Record a complaint: for the customer whose page it was opened from, for a customer by CIF, or for an
    unidentified complainant with contact data."""
    require(request.user, "complaints.add_complaint")
    now = timezone.now()
    customer = _intake_customer(request)
    form = forms.IntakeForm(request.POST or None, user=request.user, customer=customer, now=now)
    if request.method == "POST" and form.is_valid():
        values = dict(form.cleaned_data)
        cif = values.pop("cif", "").strip()
        chosen = customer
        if chosen is None and cif:
            chosen = selectors.complainable_customers(request.user).filter(cif=cif).first()
            if chosen is None:
                form.add_error("cif", _("No customer with this CIF within your scope."))
        if not form.errors:
            try:
                complaint = services.complaint_open(actor=request.user, customer=chosen, now=now, **values)
            except DomainError as refused:
                add_domain_errors(form, refused)
            else:
                messages.success(request, _("Complaint %(number)s recorded.") % {"number": complaint.number})
                return redirect("complaints:detail", complaint.pk)
    return render(request, "complaints/intake.html", {"form": form, "customer": customer},
                  status=400 if form.errors else 200)


def customer_panel(request, customer) -> str:
    """The customer page's complaints panel (customers.extensions): this customer's complaints the viewer sees and a
    button to record one; "" for whoever may not read complaints."""
    if not can(request.user, "complaints.view_complaint"):
        return ""
    now = timezone.now()
    rows = selectors.queue_rows(request.user, selectors.queue_queryset(request.user).filter(customer=customer)
                                .order_by("-received_at", "-id")[:5], now=now)
    return render_to_string("complaints/_customer_panel.html", {
        "customer": customer, "rows": rows, "can_add": can(request.user, "complaints.add_complaint")},
        request=request)


# ---- one complaint --------------------------------------------------------------------------------------------------

def _view(request, pk, revealed: bool = False) -> selectors.ComplaintView:
    require(request.user, "complaints.view_complaint")
    try:
        return selectors.complaint_view(request.user, pk, now=timezone.now(), revealed=revealed)
    except Complaint.DoesNotExist:
        raise Http404 from None


def _kept(form) -> list[tuple[str, str]]:
    """What was typed in ``form`` (text fields), shown again when the change was refused by a conflict: the form
    itself may no longer be on the page (the complaint moved on)."""
    return [(str(form.fields[name].label), value) for name, value in form.cleaned_data.items()
            if isinstance(value, str) and value.strip() and name not in ("action", "held", "approve", "follow_up",
                                                                            "outgoing")]


def _page(request, view: selectors.ComplaintView, bound: dict | None = None, status: int = 200,
          kept: list | None = None):
    c, user = view.complaint, request.user
    version = {"version": c.version}
    initial = {
        "act": forms.ActForm(initial=version), "close": forms.CloseForm(initial=version),
        "message": forms.MessageForm(initial=version), "note": forms.NoteForm(),
        "assign": forms.AssignForm(initial={**version, "handler": c.handler_id}, user=user),
        "change": forms.ChangeForm(initial={**version, "priority": c.priority, "category": c.category_id}),
        "extension": forms.ExtensionRequestForm(), "decide": forms.ExtensionDecideForm(),
        "hold": forms.HoldForm(), "satisfaction": forms.SatisfactionForm(), "review": forms.ReviewForm(
            initial={"requested_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")}),
    }
    initial.update(bound or {})
    may_work = can(user, "complaints.work_complaint", c)
    return render(request, "complaints/detail.html", {
        "view": view, "c": c, "forms": initial, "open": c.status in selectors.OPEN_STATUSES,
        "actions": [(a, label) for a, label in view.actions if a != Action.CLOSE],
        "can_close": any(a == Action.CLOSE for a, _label in view.actions),
        "may_work": may_work, "may_note": can(user, "complaints.note_complaint", c),
        "may_assign": can(user, "complaints.assign_complaint", c),
        "may_take": can(user, "complaints.take_complaint", c),
        "may_decide": can(user, "complaints.decide_extension", c) and view.pending_extension is not None,
        "held": selectors.held_label(c.paused_seconds), "now": timezone.now(), "SlaState": SlaState,
        "kept": kept or []},
        status=status)


@login_required
def detail(request, pk):
    return _page(request, _view(request, pk))


@login_required
@require_POST
def reveal(request, pk):
    """The complainant's full phone number, shown once on the page and logged."""
    view = _view(request, pk)
    try:
        services.complainant_reveal(actor=request.user, complaint=view.complaint)
    except NotPermitted:
        raise PermissionDenied from None
    return _page(request, _view(request, pk, revealed=True))


def _post(request, pk, key: str, form_class, run, **form_kwargs):
    """Handle one action's form: valid → run the service → back to the page with a message; invalid or refused →
    the page again with the form as typed and the errors beside its fields (400), a conflict as a message (409)."""
    view = _view(request, pk)
    form = form_class(request.POST, **form_kwargs)
    status, kept = 400, []
    if form.is_valid():
        try:
            done = run(view.complaint, form.cleaned_data)
        except Conflict as conflict:
            messages.error(request, str(conflict.message))
            view, status, kept = _view(request, pk), 409, _kept(form)
        except NotPermitted as refused:
            raise PermissionDenied(str(refused.message)) from None
        except DomainError as refused:
            add_domain_errors(form, refused)
        else:
            messages.success(request, done)
            return redirect("complaints:detail", view.complaint.pk)
    return _page(request, view, {key: form}, status=status, kept=kept)


@login_required
@require_POST
def act(request, pk):
    closing = request.POST.get("action") == Action.CLOSE

    def run(complaint, data):
        if data["action"] not in Action.values:
            raise Conflict(_("Choose an action."))
        done = services.complaint_act(actor=request.user, complaint=complaint, now=timezone.now(), **data)
        return _("The complaint is now “%(status)s”.") % {"status": done.get_status_display()}

    return _post(request, pk, "close" if closing else "act", forms.CloseForm if closing else forms.ActForm, run)


def _done(key: str, form_class, service, done):
    """The page action of a service that takes the complaint and the form's data and whose success is one fixed
    message (``done``, translated when shown)."""

    @login_required
    @require_POST
    def view(request, pk):
        def run(complaint, data):
            service(actor=request.user, complaint=complaint, now=timezone.now(), **data)
            return str(done)

        return _post(request, pk, key, form_class, run)

    return view


message = _done("message", forms.MessageForm, services.complaint_message, gettext_lazy("Message recorded."))
note = _done("note", forms.NoteForm, services.complaint_note, gettext_lazy("Note added."))
change = _done("change", forms.ChangeForm, services.complaint_change,
               gettext_lazy("Details changed; the SLA policy was chosen again and the time used kept."))
extension_request = _done("extension", forms.ExtensionRequestForm, services.extension_request,
                          gettext_lazy("Extension requested: it takes effect when approved."))
satisfaction = _done("satisfaction", forms.SatisfactionForm, services.satisfaction_record,
                     gettext_lazy("Satisfaction recorded."))


@login_required
@require_POST
def assign(request, pk):
    def run(complaint, data):
        handler = data["handler"]
        if request.POST.get("take"):
            handler = request.user
        services.complaint_assign(actor=request.user, complaint=complaint, handler=handler, now=timezone.now(),
                                  version=data["version"])
        return _("Handler: %(name)s") % {"name": handler.display_name if handler else _("nobody")}

    return _post(request, pk, "assign", forms.AssignForm, run, user=request.user)


@login_required
@require_POST
def extension_decide(request, pk):
    def run(complaint, data):
        pending = complaint.extension_requests.filter(state=Extension.State.REQUESTED).first()
        if pending is None:
            raise Conflict(_("This extension has been decided already."))
        require(request.user, "complaints.decide_extension", complaint)
        done = services.extension_decide(actor=request.user, extension=pending, now=timezone.now(), **data)
        return _("Extension approved.") if done.state == Extension.State.APPROVED else _("Extension refused.")

    return _post(request, pk, "decide", forms.ExtensionDecideForm, run)


@login_required
@require_POST
def hold(request, pk):
    def run(complaint, data):
        services.regulatory_hold(actor=request.user, complaint=complaint, now=timezone.now(), **data)
        return _("The regulator's clock holds.") if data["held"] else _("The regulator's clock runs again.")

    return _post(request, pk, "hold", forms.HoldForm, run)


@login_required
@require_POST
def review(request, pk):
    def run(complaint, data):
        opened = services.review_open(actor=request.user, complaint=complaint, now=timezone.now(), **data)
        return _("Re-check %(number)s opened at the superior branch.") % {"number": opened.number}

    return _post(request, pk, "review", forms.ReviewForm, run)


# ---- the supervisor board and the register ------------------------------------------------------------------------

@login_required
def board(request):
    """At risk, breached, regulatory deadlines within three days, extensions awaiting approval, time held per
    handler, and the satisfaction of the last 90 days, for the viewer's branches (or one subtree of them)."""
    require(request.user, "complaints.view_board")
    branches = complaint_scope_of(request.user).branches().order_by("path")
    branch = None
    if request.GET.get("branch"):
        try:
            branch = branches.get(pk=int(request.GET["branch"]))
        except (ValueError, OverflowError, Branch.DoesNotExist):
            raise Http404 from None
    now = timezone.now()
    figures = selectors.board(request.user, now=now, branch_id=branch.pk if branch else None)
    lists = [(_("At risk"), figures.at_risk, "board-at-risk"), (_("Breached"), figures.breached, "board-breached"),
             (_("Regulatory deadline within three days"), figures.regulatory_soon, "board-regulatory")]
    return render(request, "complaints/board.html", {"board": figures, "branches": branches, "branch": branch,
                                                     "lists": lists, "now": now, "SlaState": SlaState})


@login_required
def export(request):
    """The complaint register of a period as CSV (UTF-8 with BOM, for Chinese Excel) or .xlsx, as a regulator asks
    for it; cells a spreadsheet would run as formulas neutralised (core.exports); logged."""
    require(request.user, "complaints.export_complaints")
    today = timezone.localdate()
    form = forms.ExportForm(request.GET or None, initial={"received_from": today.replace(day=1),
                                                          "received_to": today})
    if not request.GET or not form.is_valid():
        return render(request, "complaints/export.html", {"form": form}, status=400 if form.errors else 200)
    data = form.cleaned_data
    rows = services.complaints_export_rows(
        actor=request.user, complaints=selectors.complaints_visible_to(request.user), start=data["received_from"],
        end=data["received_to"], today=today, file_format=data["format"])
    header = next(rows)  # the permission check, the log and the labels before the response streams
    name = f"complaints-{data['received_from']:%Y%m%d}-{data['received_to']:%Y%m%d}"
    return exports.download(itertools.chain([header], rows), name=name, file_format=data["format"],
                            title=_("Complaints"))


app_name = "complaints"
urlpatterns = [
    path("", queue, name="queue"),
    path("new/", intake, name="new"),
    path("board/", board, name="board"),
    path("export/", export, name="export"),
    path("<int:pk>/", detail, name="detail"),
    path("<int:pk>/act/", act, name="act"),
    path("<int:pk>/reveal/", reveal, name="reveal"),
    path("<int:pk>/message/", message, name="message"),
    path("<int:pk>/note/", note, name="note"),
    path("<int:pk>/assign/", assign, name="assign"),
    path("<int:pk>/change/", change, name="change"),
    path("<int:pk>/extension/", extension_request, name="extension"),
    path("<int:pk>/extension/decide/", extension_decide, name="extension-decide"),
    path("<int:pk>/hold/", hold, name="hold"),
    path("<int:pk>/satisfaction/", satisfaction, name="satisfaction"),
    path("<int:pk>/review/", review, name="review"),
]
