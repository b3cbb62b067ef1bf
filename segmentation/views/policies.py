"""Segmentation pages: policies (see views/__init__.py). Head office only; anyone else gets 404, as for a version
that does not exist. Thin: parse, call a selector or a service, render."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import Conflict, DomainError, NotPermitted
from core.forms import add_domain_errors
from core.pagination import CappedPaginator
from org.permissions import can

from .. import selectors, services
from ..constants import PolicyStatus
from ..forms import PolicyForm, PolicyRejectForm
from ..models import Policy


def _may_see(request) -> None:
    if not can(request.user, "segmentation.view_policy"):
        raise Http404


def _visible_policy(request, pk) -> Policy:
    try:
        return selectors.policy_get(request.user, pk)
    except Policy.DoesNotExist:
        raise Http404 from None


def _may_change(request) -> None:
    if not can(request.user, "segmentation.change_policy"):
        raise PermissionDenied


def _flash(request, error: DomainError) -> None:
    for msg in [m for ms in error.fields.values() for m in ms] or [str(error.message)]:
        messages.error(request, msg)


def _detail_context(request, pk, *, reject_form=None) -> dict:
    try:
        view = selectors.policy_view(request.user, pk)
    except Policy.DoesNotExist:
        raise Http404 from None
    policy = view.policy
    return {"view": view, "policy": policy, "reject_form": reject_form or PolicyRejectForm(),
            "can_change": can(request.user, "segmentation.change_policy"),
            "four_eyes": settings.SEGMENTATION_FOUR_EYES,
            "is_author": request.user.pk in (policy.created_by_id, policy.submitted_by_id)}


@login_required
def policy_list(request):
    _may_see(request)
    page = CappedPaginator(selectors.policies_visible_to(request.user), 25).get_page(request.GET.get("page"))
    return render(request, "segmentation/policy_list.html", {
        "page": page, "open_policy": selectors.policy_open(),
        "can_change": can(request.user, "segmentation.change_policy")})


@login_required
def policy_detail(request, pk):
    _may_see(request)
    return render(request, "segmentation/policy_detail.html", _detail_context(request, pk))


@login_required
@require_POST
def policy_new(request):
    """A new draft from the published version (or the defaults); while one is open, that one is shown."""
    _may_see(request)
    _may_change(request)
    try:
        policy = services.policy_draft(actor=request.user)
    except Conflict as e:
        messages.error(request, str(e.message))
        open_policy = selectors.policy_open()
        return redirect("segmentation:policy-detail", pk=open_policy.pk) if open_policy else redirect(
            "segmentation:policy-list")
    except NotPermitted:
        raise PermissionDenied from None
    messages.success(request, _("Draft version %(version)s created: change what you need, then submit it.")
                     % {"version": policy.version})
    return redirect("segmentation:policy-edit", pk=policy.pk)


@login_required
def policy_edit(request, pk):
    policy = _visible_policy(request, pk)
    _may_change(request)
    if policy.status != PolicyStatus.DRAFT:
        messages.error(request, _("Only a draft can be changed; version %(version)s is %(status)s.")
                       % {"version": policy.version, "status": policy.get_status_display()})
        return redirect("segmentation:policy-detail", pk=policy.pk)
    form = PolicyForm(request.POST or None, instance=policy)
    if request.method == "POST" and form.is_valid():
        try:
            services.policy_update(actor=request.user, policy=policy,
                                   values={f: form.cleaned_data[f] for f in form.fields})
        except NotPermitted:
            raise PermissionDenied from None
        except Conflict as e:
            form.add_error(None, str(e.message))
        except DomainError as e:
            add_domain_errors(form, e)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("segmentation:policy-detail", pk=policy.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "segmentation/policy_form.html", {"form": form, "policy": policy}, status=status)


@login_required
@require_POST
def policy_submit(request, pk):
    policy = _visible_policy(request, pk)
    _may_change(request)
    try:
        services.policy_submit(actor=request.user, policy=policy)
    except NotPermitted:
        raise PermissionDenied from None
    except DomainError as e:
        _flash(request, e)
    else:
        messages.success(request, _("Version %(version)s is waiting for another head-office user's approval.")
                         % {"version": policy.version})
    return redirect("segmentation:policy-detail", pk=policy.pk)


@login_required
def policy_approve(request, pk):
    """GET: what publishing this version changes, and a button to confirm; POST: publish it."""
    policy = _visible_policy(request, pk)
    _may_change(request)
    error = None
    if request.method == "POST":
        try:
            services.policy_approve(actor=request.user, policy=policy, now=timezone.now())
        except NotPermitted:
            raise PermissionDenied from None
        except Conflict as e:
            messages.error(request, str(e.message))
            return redirect("segmentation:policy-detail", pk=policy.pk)
        except DomainError as e:
            error = "; ".join(m for ms in e.fields.values() for m in ms) or str(e.message)
        else:
            messages.success(request, _("Version %(version)s is published: the next run uses it.")
                             % {"version": policy.version})
            return redirect("segmentation:policy-detail", pk=policy.pk)
    published = selectors.published_policy()
    return render(request, "segmentation/policy_approve.html", {
        "policy": policy, "published": published, "error": error,
        "differences": selectors.policy_differences(policy, published if published != policy else None),
    }, status=400 if error else 200)


@login_required
@require_POST
def policy_reject(request, pk):
    policy = _visible_policy(request, pk)
    _may_change(request)
    form = PolicyRejectForm(request.POST)
    if form.is_valid():
        try:
            services.policy_reject(actor=request.user, policy=policy, reason=form.cleaned_data["reason"])
        except NotPermitted:
            raise PermissionDenied from None
        except Conflict as e:
            messages.error(request, str(e.message))
            return redirect("segmentation:policy-detail", pk=policy.pk)
        except DomainError as e:
            add_domain_errors(form, e)
        else:
            messages.success(request, _("Version %(version)s is a draft again.") % {"version": policy.version})
            return redirect("segmentation:policy-detail", pk=policy.pk)
    return render(request, "segmentation/policy_detail.html", _detail_context(request, pk, reject_form=form),
                  status=400)


urlpatterns = [
    path("policies/", policy_list, name="policy-list"),
    path("policies/new/", policy_new, name="policy-new"),
    path("policies/<int:pk>/", policy_detail, name="policy-detail"),
    path("policies/<int:pk>/edit/", policy_edit, name="policy-edit"),
    path("policies/<int:pk>/submit/", policy_submit, name="policy-submit"),
    path("policies/<int:pk>/approve/", policy_approve, name="policy-approve"),
    path("policies/<int:pk>/reject/", policy_reject, name="policy-reject"),
]
