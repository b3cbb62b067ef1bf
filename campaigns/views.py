"""Campaign pages: the list, the editor with its audience preview, one campaign (what it targets, approval, launch
counts, the funnel and the results by tier with the uplift against the control group), cancellation after a
confirmation, and the members with the RM's outcomes. Thin: a form, a selector or a service, a template; a campaign
the viewer does not see is a 404; the service's refusals are shown beside the fields, a conflict as a message."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import Conflict, DomainError, NotPermitted, ValidationFailed
from core.forms import add_domain_errors
from core.pagination import CappedPaginator
from customers.constants import ProductType
from org.permissions import can, require

from . import forms, selectors, services
from .constants import CampaignStatus, MessageChannel
from .models import Campaign, Member

PER_PAGE = 25
ENDED = (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED)


def _campaign(request, pk) -> Campaign:
    require(request.user, "campaigns.view_campaign")
    try:
        return selectors.campaign_get(request.user, pk)
    except Campaign.DoesNotExist:
        raise Http404 from None


@login_required
def campaign_list(request):
    """The campaigns the viewer sees, newest first, by status and name."""
    require(request.user, "campaigns.view_campaign")
    form = forms.CampaignFilterForm(request.GET or None)
    qs = selectors.campaigns_visible_to(request.user).select_related("branch")
    if form.is_valid():
        if form.cleaned_data["q"]:
            qs = qs.filter(Q(name__icontains=form.cleaned_data["q"]) | Q(goal__icontains=form.cleaned_data["q"]))
        if form.cleaned_data["status"]:
            qs = qs.filter(status=form.cleaned_data["status"])
    page = CappedPaginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "campaigns/list.html", {
        "form": form, "page": page, "query": query.urlencode(),
        "can_add": can(request.user, "campaigns.change_campaign")})


AUDIENCE_FIELDS = {f"audience.{name}": name for name in (  # the service's field → the editor's
    *forms.MULTI, *forms.NUMBERS, *forms.CHOSEN, "birthday_month", "branch", "rm", "tags")} | {
    "control_share": "control_percent"}


def _editor(request, campaign: Campaign | None):
    """Create or change a draft. "Preview the audience" counts what the filter as typed matches (nothing saved);
    "Save" saves the draft and goes to its page."""
    require(request.user, "campaigns.change_campaign")
    if campaign is not None and campaign.status != CampaignStatus.DRAFT:
        messages.error(request, _("Only a draft is edited: this campaign is “%(status)s”.") % {
            "status": campaign.get_status_display()})
        return redirect("campaigns:detail", campaign.pk)
    initial = forms.CampaignForm.initial_of(campaign) if campaign else None
    form = forms.CampaignForm(request.POST or None, user=request.user, initial=initial)
    preview, now = None, timezone.now()
    if request.method == "POST" and form.is_valid():
        values = form.values()
        if "preview" in request.POST:
            try:
                draft = services.campaign_draft(actor=request.user, values=values, now=now, campaign=campaign)
                preview = services.campaign_preview(campaign=draft, today=timezone.localdate(now))
            except ValidationFailed as refused:
                add_domain_errors(form, refused, rename=AUDIENCE_FIELDS)
        else:
            try:
                saved = services.campaign_save(actor=request.user, values=values, now=now, campaign=campaign,
                                               version=form.cleaned_data.get("version"))
            except Conflict as conflict:
                messages.error(request, str(conflict.message))
            except NotPermitted:
                raise PermissionDenied from None
            except DomainError as refused:
                add_domain_errors(form, refused, rename=AUDIENCE_FIELDS)
            else:
                messages.success(request, _("Draft “%(name)s” saved.") % {"name": saved.name})
                return redirect("campaigns:detail", saved.pk)
    status = 400 if form.errors else 200
    return render(request, "campaigns/form.html", {
        "form": form, "campaign": campaign, "preview": preview, "multi": [form[name] for name in forms.MULTI]},
                  status=status)


@login_required
def campaign_create(request):
    return _editor(request, None)


@login_required
def campaign_edit(request, pk):
    return _editor(request, _campaign(request, pk))


@login_required
def campaign_detail(request, pk):
    """One campaign: what it targets and says, who prepared and approved it, and once launched its counts, the
    funnel and the results by tier with the uplift against the control group. ``?preview=1`` counts the audience
    now (before launch)."""
    campaign = _campaign(request, pk)
    user, now = request.user, timezone.now()
    launched = campaign.launched_at is not None
    preview = None
    if not launched and request.GET.get("preview"):
        preview = services.campaign_preview(campaign=campaign, today=timezone.localdate(now))
    labels = dict(MessageChannel.choices)
    total, tiers = selectors.campaign_results(user, campaign) if launched else (None, [])
    return render(request, "campaigns/detail.html", {
        "c": campaign, "audience": selectors.audience_labels(campaign), "preview": preview, "total": total,
        "tiers": tiers, "launched": launched, "channels": [labels.get(ch, ch) for ch in campaign.channels],
        "product_type": dict(ProductType.choices).get(campaign.product_type, campaign.product_type),
        "may_edit": campaign.status == CampaignStatus.DRAFT and can(user, "campaigns.change_campaign"),
        "may_approve": campaign.status == CampaignStatus.DRAFT and can(user, "campaigns.approve_campaign", campaign),
        "may_cancel": campaign.status not in ENDED and can(user, "campaigns.change_campaign")})


@login_required
@require_POST
def campaign_approve(request, pk):
    campaign = _campaign(request, pk)
    try:
        services.campaign_approve(actor=request.user, campaign=campaign, now=timezone.now(),
                                  version=_int(request.POST.get("version")))
    except NotPermitted as refused:
        raise PermissionDenied(str(refused.message)) from None
    except ValidationFailed as refused:
        messages.error(request, _("Not approved: %(problems)s") % {"problems": " ".join(
            str(m) for msgs in refused.fields.values() for m in msgs) or str(refused.message)})
    except Conflict as conflict:
        messages.error(request, str(conflict.message))
    else:
        messages.success(request, _("Approved: the campaign launches at its start."))
    return redirect("campaigns:detail", campaign.pk)


def _int(raw) -> int | None:
    try:
        return int(raw)
    except (TypeError, ValueError, OverflowError):
        return None


@login_required
def campaign_cancel(request, pk):
    """Cancel after a confirmation: messages still queued are cancelled, those sent stay sent."""
    campaign = _campaign(request, pk)
    require(request.user, "campaigns.change_campaign")
    form = forms.CancelForm(request.POST or None)
    if campaign.status in ENDED:
        messages.error(request, _("The campaign has ended already."))
        return redirect("campaigns:detail", campaign.pk)
    if request.method == "POST" and form.is_valid():
        try:
            services.campaign_cancel(actor=request.user, campaign=campaign, now=timezone.now(),
                                     reason=form.cleaned_data["reason"])
        except Conflict as conflict:
            messages.error(request, str(conflict.message))
        except NotPermitted:
            raise PermissionDenied from None
        else:
            messages.success(request, _("Campaign cancelled."))
        return redirect("campaigns:detail", campaign.pk)
    queued = campaign.messages.filter(status="queued").count()
    return render(request, "campaigns/cancel.html", {"c": campaign, "form": form, "queued": queued})


@login_required
def campaign_members(request, pk):
    """The audience as snapshotted at launch (the members the viewer sees), by tier, group and outcome, with a form
    to record the outcome of each contact."""
    campaign = _campaign(request, pk)
    form = forms.MemberFilterForm(request.GET or None)
    qs = selectors.members_visible_to(request.user, campaign)
    if form.is_valid():
        data = form.cleaned_data
        if data["tier"]:
            qs = qs.filter(value_tier=data["tier"])
        if data["group"]:
            qs = qs.filter(excluded="" if data["group"] == "contacted" else data["group"])
        if data["outcome"]:
            qs = qs.filter(outcome="" if data["outcome"] == "none" else data["outcome"])
    qs = qs.select_related("customer", "customer__rm").order_by("id")
    page = CappedPaginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "campaigns/members.html", {
        "c": campaign, "form": form, "page": page, "query": query.urlencode(),
        "outcome_form": forms.OutcomeForm(), "may_record": can(request.user, "campaigns.record_outcome")})


@login_required
@require_POST
def member_outcome(request, pk, member_pk):
    campaign = _campaign(request, pk)
    form = forms.OutcomeForm(request.POST)
    try:
        member = selectors.members_visible_to(request.user, campaign).get(pk=member_pk)
    except Member.DoesNotExist:
        raise Http404 from None
    back = reverse("campaigns:members", args=[campaign.pk])
    query = QueryDict(request.POST.get("query", ""))  # the list's filters and page, kept
    if not form.is_valid():
        messages.error(request, _("Choose an outcome."))
    else:
        try:
            services.outcome_record(actor=request.user, member=member, outcome=form.cleaned_data["outcome"],
                                    now=timezone.now())
        except NotPermitted:
            raise PermissionDenied from None
        except (Conflict, ValidationFailed) as refused:
            messages.error(request, str(refused.message))
        else:
            messages.success(request, _("Outcome recorded for %(name)s.") % {"name": member.customer.name})
    return redirect(f"{back}?{query.urlencode()}" if query else back)


app_name = "campaigns"
urlpatterns = [
    path("", campaign_list, name="list"),
    path("new/", campaign_create, name="create"),
    path("<int:pk>/", campaign_detail, name="detail"),
    path("<int:pk>/edit/", campaign_edit, name="edit"),
    path("<int:pk>/approve/", campaign_approve, name="approve"),
    path("<int:pk>/cancel/", campaign_cancel, name="cancel"),
    path("<int:pk>/members/", campaign_members, name="members"),
    path("<int:pk>/members/<int:member_pk>/outcome/", member_outcome, name="member-outcome"),
]
