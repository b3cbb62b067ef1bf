"""Segmentation pages: runs (head office): the list with the button that starts one, a run's progress and
report, and the what-if preview of a policy version."""

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.pagination import CappedPaginator
from org.permissions import can

from .. import engine, selectors, services
from ..forms import PreviewForm, RunStartForm
from ..models import Policy, Run


def _last_month(today: date) -> date:
    return engine.month_start(today, 1)


@login_required
def run_list(request):
    if not can(request.user, "segmentation.view_run"):
        raise Http404
    page = CappedPaginator(selectors.runs_visible_to(request.user), 20).get_page(request.GET.get("page"))
    form = RunStartForm(initial={"as_of": _last_month(timezone.localdate()).strftime("%Y-%m")})
    return render(request, "segmentation/runs.html", {
        "page": page, "form": form, "may_start": can(request.user, "segmentation.start_run"),
        "current": selectors.current_run(), "policy": selectors.published_policy()})


@login_required
@require_POST
def run_start(request):
    if not can(request.user, "segmentation.start_run"):
        raise Http404
    form = RunStartForm(request.POST)
    if form.is_valid():
        try:
            run, started = services.run_start(actor=request.user, as_of=form.cleaned_data["as_of"])
        except DomainError as error:
            messages.error(request, error.message or "; ".join(str(m) for m in error.fields.values()))
            return redirect("segmentation:runs")
        if not started:
            messages.info(request, _("This month was already classified under this policy version: here is that "
                                     "run. Publish a new version to classify it again."))
        return redirect("segmentation:run", pk=run.pk)
    messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
    return redirect("segmentation:runs")


@login_required
def run_detail(request, pk):
    try:
        run = selectors.run_get(request.user, pk)
    except Run.DoesNotExist:
        raise Http404 from None
    context = {"run": run, "report_rows": selectors.report_rows(run.report)}
    if request.headers.get("HX-Request"):
        return render(request, "segmentation/_run_status.html", context)
    return render(request, "segmentation/run.html", context)


@login_required
def policy_preview(request):
    """What-if: a policy version (a draft, typically) on current data; nothing is written."""
    if not can(request.user, "segmentation.change_policy"):
        raise Http404
    policies = Policy.objects.order_by("-version")
    form = PreviewForm(request.GET or None, policies=policies,
                       initial={"as_of": _last_month(timezone.localdate()).strftime("%Y-%m")})
    result = None
    if form.is_valid():
        result = selectors.policy_preview(request.user, form.cleaned_data["policy"], as_of=form.cleaned_data["as_of"],
                                          today=timezone.localdate())
    return render(request, "segmentation/preview.html", {"form": form, "result": result})


urlpatterns = [
    path("runs/", run_list, name="runs"),
    path("runs/start/", run_start, name="run-start"),
    path("runs/<int:pk>/", run_detail, name="run"),
    path("preview/", policy_preview, name="preview"),
]
