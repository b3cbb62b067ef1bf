"""Writes of campaigns: drafts (checked field by field; a launched campaign is not edited), approval (a supervisor or
head office, not the creator; an audience that matches nothing is refused), the launch (the audience snapshotted,
the control group held out by a stable hash, unsuitable customers left out and counted, a message or an RM task per
contacted customer — each once), cancellation (queued messages cancelled with the reason), outcomes, completion
(conversions from core banking's holdings within the attribution window)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import audit
from core.copy import copy_columns
from core.errors import Conflict, NotPermitted, ValidationFailed
from customers import services as customer_services
from customers.models import Customer, Holding
from org.access import api_key_of, branch_subtree_ids, scope_of, user_of
from org.permissions import can

from . import care, rules
from .constants import CampaignStatus, Exclusion
from .models import Campaign, Member, Message

EDITABLE = ("name", "goal", "audience", "control_share", "channels", "template_zh", "template_en", "product_risk",
            "product_type", "starts_at", "attribution_days")
PROBLEM_MESSAGES = {
    "unknown": gettext_lazy("Unknown filter."), "list": gettext_lazy("Give a list of values."),
    "number": gettext_lazy("Give a whole number."), "text": gettext_lazy("Give a text."),
    "month": gettext_lazy("A month is 1 to 12."), "order": gettext_lazy("The highest age is below the lowest."),
}


def audience_customers(campaign: Campaign, *, today: dt.date) -> QuerySet[Customer]:
    """The customers a campaign's audience filter matches now, within the campaign's branch (head office's: all)."""
    from segmentation.models import Assignment
    from segmentation.selectors import current_run

    a = campaign.audience or {}
    qs = Customer.objects.all()
    if campaign.branch_id:
        qs = qs.filter(branch_id__in=branch_subtree_ids(campaign.branch_id))
    if a.get("branch"):
        qs = qs.filter(branch_id__in=branch_subtree_ids(a["branch"]))
    if a.get("rm"):
        qs = qs.filter(rm_id=a["rm"])
    for key in ("lifecycle_stage", "risk_level"):
        if a.get(key):
            qs = qs.filter(**{f"{key}__in": a[key]})
    if a.get("tags"):
        qs = qs.filter(tags__overlap=a["tags"])
    if a.get("age_min") is not None:  # born on or before today − age_min years
        qs = qs.filter(birth_date__lte=_years_before(today, a["age_min"]))
    if a.get("age_max") is not None:  # younger than age_max + 1
        qs = qs.filter(birth_date__gt=_years_before(today, a["age_max"] + 1))
    if a.get("birthday_month"):
        qs = qs.filter(birth_date__month=a["birthday_month"])
    active = Holding.objects.filter(customer_id=OuterRef("pk"), status="active")
    if a.get("product_held"):
        qs = qs.filter(Exists(active.filter(product_type=a["product_held"])))
    if a.get("product_not_held"):
        qs = qs.exclude(Exists(active.filter(product_type=a["product_not_held"])))
    if a.get("value_tier") or a.get("card_tier"):
        run = current_run()
        tiers = Assignment.objects.filter(run=run) if run else Assignment.objects.none()
        if a.get("value_tier"):
            tiers = tiers.filter(value_tier__in=a["value_tier"])
        if a.get("card_tier"):
            tiers = tiers.filter(card_tier__in=a["card_tier"])
        qs = qs.filter(pk__in=tiers.values("customer_id"))
    return qs


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # Feb 29
        return day.replace(year=day.year - years, day=28)


NOT_NULL = ("name", "goal", "audience", "control_share", "channels", "template_zh", "template_en", "product_risk",
            "product_type", "attribution_days")


def _problems(values: dict, *, now: dt.datetime) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {name: [_("This field cannot be empty.")] for name in NOT_NULL
                                    if name in values and values[name] is None and name != "name"}
    if "name" in values and not (values["name"] or "").strip():
        errors["name"] = [_("Name the campaign.")]
    if values.get("audience") is not None and not isinstance(values["audience"], dict):
        errors["audience"] = [_("Give the audience filter as an object of filters.")]
    for name, problem in rules.audience_problems(values.get("audience") if isinstance(values.get("audience"), dict)
                                                 else {}).items():
        errors[f"audience.{name}"] = [str(PROBLEM_MESSAGES[problem])]
    share = values.get("control_share")
    if share is not None and not Decimal(0) <= Decimal(str(share)) <= Decimal("0.5"):
        errors["control_share"] = [_("The control group is a share from 0 to 0.5 of the audience.")]
    channels = values.get("channels")
    if channels is not None and (not isinstance(channels, list) or not channels
                                 or not all(isinstance(c, str) for c in channels)
                                 or not set(channels) <= set(rules.CHANNELS)):
        errors["channels"] = [_("Choose one or more of: SMS, email, in-app, RM task.")]
    for field in ("template_zh", "template_en"):
        unknown = rules.template_problems(values.get(field) or "")
        if unknown:
            errors[field] = [_("Unknown variables: %(names)s. Use {name}, {surname}, {honorific}, {rm}, {branch}.")
                             % {"names": ", ".join(unknown)}]
    if values.get("product_risk") and values["product_risk"] not in ("R1", "R2", "R3", "R4", "R5"):
        errors["product_risk"] = [_("A product risk is R1 to R5.")]
    starts = values.get("starts_at")
    if starts is not None and starts < now:
        errors["starts_at"] = [_("The start cannot be in the past.")]
    return errors


def _record(campaign: Campaign, actor, kind: str, changes: dict) -> None:
    audit.record(type=kind, obj=campaign, user=user_of(actor), api_key=api_key_of(actor), changes=changes)


@transaction.atomic
def campaign_save(*, actor, values: dict, now: dt.datetime, campaign: Campaign | None = None,
                  version: int | None = None) -> Campaign:
    """Create a draft or change one (supervisors for their branch, head office for the bank). A campaign that was
    approved or launched is not edited (a conflict)."""
    from .constants import CampaignAudit

    if not can(actor, "campaigns.change_campaign"):
        raise NotPermitted(_("Supervisors and head office prepare campaigns."))
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise ValidationFailed(fields={k: [_("Unknown field.")] for k in sorted(unknown)})
    if campaign is not None:
        campaign = _locked(actor, campaign, version)
        if campaign.status != CampaignStatus.DRAFT:
            raise Conflict(_("Only a draft is edited: this campaign is “%(status)s”.") % {
                "status": campaign.get_status_display()})
    errors = _problems(values, now=now)
    if errors:
        raise ValidationFailed(fields=errors)
    target = campaign or Campaign(created_by=user_of(actor), branch=_owner_branch(actor))
    for key, value in values.items():
        setattr(target, key, value)
    if not (target.name or "").strip():
        raise ValidationFailed(fields={"name": [_("Name the campaign.")]})
    target.version = (target.version or 0) + (1 if target.pk else 0)
    target.save()
    _record(target, actor, CampaignAudit.SAVED, {k: [None, str(v)[:200]] for k, v in values.items()})
    return target


def _owner_branch(actor):
    """Whose a new campaign is: head office's (None) or the preparer's branch."""
    return None if scope_of(actor).everything else getattr(user_of(actor), "branch", None)


def campaign_draft(*, actor, values: dict, now: dt.datetime, campaign: Campaign | None = None) -> Campaign:
    """An unsaved campaign with ``values`` as it would be saved (its branch included), for the editor's audience
    preview; ValidationFailed as ``campaign_save`` would refuse it."""
    errors = _problems(values, now=now)
    if errors:
        raise ValidationFailed(fields=errors)
    return Campaign(**values, branch=campaign.branch if campaign else _owner_branch(actor),
                    pk=campaign.pk if campaign else None)


def _locked(actor, campaign: Campaign, version: int | None) -> Campaign:
    from .selectors import campaigns_visible_to

    try:
        current = campaigns_visible_to(actor).select_for_update().get(pk=campaign.pk)
    except Campaign.DoesNotExist:
        raise NotPermitted from None
    if version is not None and version != current.version:
        raise Conflict(_("Someone else changed this campaign meanwhile: reload it and try again."))
    return current


def campaign_preview(*, campaign: Campaign, today: dt.date) -> dict:
    """The audience's size now (before launch), how many a product offer would leave out as unsuitable, and a
    warning when it matches nothing."""
    audience = audience_customers(campaign, today=today)
    size = audience.count()
    unsuitable = 0
    if campaign.product_risk:
        for risk, assessed, birth in audience.values_list("risk_level", "risk_assessed_on", "birth_date").iterator(
                chunk_size=20_000):
            if not rules.suitability(customer_risk=risk, assessed_on=assessed, product_risk=campaign.product_risk,
                                     birth=birth, today=today).allowed:
                unsuitable += 1
    control = round(size * float(campaign.control_share))
    return {"size": size, "control_estimate": control, "unsuitable": unsuitable,
            "warning": _("The audience matches no customer.") if size == 0 else ""}


@transaction.atomic
def campaign_approve(*, actor, campaign: Campaign, now: dt.datetime, version: int | None = None) -> Campaign:
    """A supervisor or head office (never who created it) approves a draft: it launches at its start."""
    from .constants import CampaignAudit

    campaign = _locked(actor, campaign, version)
    if not can(actor, "campaigns.approve_campaign", campaign):
        raise NotPermitted(_("A supervisor or head office approves, and never who prepared the campaign."))
    if campaign.status != CampaignStatus.DRAFT:
        raise Conflict(_("Only a draft is approved."))
    errors = _problems({k: getattr(campaign, k) for k in EDITABLE}, now=now)
    if not campaign.channels:
        errors["channels"] = [_("Choose one or more of: SMS, email, in-app, RM task.")]
    if any(c != "rm_task" for c in campaign.channels) and not campaign.template_zh.strip():
        errors["template_zh"] = [_("Write the message.")]
    if campaign.starts_at is None:
        errors["starts_at"] = [_("Set the start.")]
    if not errors and not audience_customers(campaign, today=timezone.localtime(now).date()).exists():
        errors["audience"] = [_("The audience matches no customer.")]
    if errors:
        raise ValidationFailed(fields=errors)
    campaign.status, campaign.approved_by, campaign.approved_at = CampaignStatus.SCHEDULED, user_of(actor), now
    campaign.version += 1
    campaign.save()
    _record(campaign, actor, CampaignAudit.APPROVED, {"status": [CampaignStatus.DRAFT, CampaignStatus.SCHEDULED]})
    return campaign


@transaction.atomic
def campaign_cancel(*, actor, campaign: Campaign, now: dt.datetime, reason: str = "") -> Campaign:
    from .constants import CampaignAudit

    if not can(actor, "campaigns.change_campaign"):
        raise NotPermitted
    campaign = _locked(actor, campaign, None)
    if campaign.status in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED):
        raise Conflict(_("The campaign has ended already."))
    old = campaign.status
    campaign.status, campaign.finished_at = CampaignStatus.CANCELLED, now
    campaign.version += 1
    campaign.save()
    Message.objects.filter(campaign=campaign, status=Message.Status.QUEUED).update(
        status=Message.Status.CANCELLED, cancel_reason="campaign_cancelled")
    _record(campaign, actor, CampaignAudit.CANCELLED, {"status": [old, CampaignStatus.CANCELLED],
                                                       "reason": [None, reason[:200]]})
    return campaign


LAUNCH_COLUMNS = ("pk", "rm_id", "branch_id", "name", "gender", "cif", "mobile", "email", "risk_level",
                  "risk_assessed_on", "birth_date", "consent_sms", "consent_email", "consent_app", "do_not_contact",
                  "tier")


@transaction.atomic
def campaign_launch(*, campaign_id: int, now: dt.datetime) -> dict:
    """Launch a scheduled campaign whose start has come (the campaign dispatcher): snapshot its audience as members,
    hold out the control group, leave out (and count) unsuitable customers and those without a consented channel,
    queue a message or give the RM a task for each of the rest. Each once: the campaign is locked and launched only
    from "scheduled", in one transaction; members are unique per campaign, message and care keys per campaign and
    customer. The audience is read as tuples and written with COPY (500,000 members in seconds, bench_care.py).
    Returns the counts."""
    from segmentation.models import Assignment
    from segmentation.selectors import current_run

    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if campaign.status != CampaignStatus.SCHEDULED:
        return campaign.counts or {}
    today = timezone.localtime(now).date()
    run = current_run()
    tier = (Subquery(Assignment.objects.filter(run=run, customer_id=OuterRef("pk")).values("value_tier")[:1])
            if run else Value(""))
    audience = (audience_customers(campaign, today=today).order_by().annotate(tier=Coalesce(tier, Value("")))
                .values_list(*LAUNCH_COLUMNS))
    share = float(campaign.control_share)
    counts = {"targeted": 0, "control": 0, "unsuitable": 0, "no_channel": 0, "messages": 0, "rm_tasks": 0}
    members: dict[str, list] = {"customer_id": [], "value_tier": [], "excluded": []}
    messages: dict[str, list] = {"key": [], "customer_id": [], "channel": [], "recipient": [], "body": []}
    tasks: list[tuple[str, int, int, str]] = []
    names = _launch_names()
    for (pk, rm_id, branch_id, name, gender, cif, mobile, email, risk, assessed, birth, sms, mail, app, dnc,
         value_tier) in audience.iterator(chunk_size=20_000):
        counts["targeted"] += 1
        members["customer_id"].append(pk)
        members["value_tier"].append(value_tier)
        excluded, rm_only = "", False
        if campaign.product_risk:  # suitability first: the control group is drawn from whom the offer suits
            fit = rules.suitability(customer_risk=risk, assessed_on=assessed, product_risk=campaign.product_risk,
                                    birth=birth, today=today)
            excluded, rm_only = ("" if fit.allowed else Exclusion.UNSUITABLE), fit.rm_task_only
        if not excluded and rules.in_control_group(campaign.pk, pk, share):
            excluded = Exclusion.CONTROL
        channel = None
        if not excluded:
            channel = rules.choose_channel(
                campaign.channels, {"sms": sms, "email": mail, "app": app}, do_not_contact=dnc,
                reachable={"sms": bool(mobile), "email": bool(email), "app": True}, rm_task_only=rm_only,
                has_rm=rm_id is not None)
            if channel is None:
                excluded = Exclusion.NO_CHANNEL
        members["excluded"].append(str(excluded))
        if excluded:
            counts[str(excluded)] += 1
        elif channel == "rm_task":
            tasks.append((f"campaign:{campaign.pk}:{pk}", pk, rm_id, name))
        else:
            text = rules.render(campaign.template_zh, rules.template_values(
                name=name, gender=gender, rm=names["rm"].get(rm_id, ""), branch=names["branch"].get(branch_id, "")))
            messages["key"].append(f"campaign:{campaign.pk}:{pk}")
            messages["customer_id"].append(pk)
            messages["channel"].append(channel)
            messages["recipient"].append({"sms": mobile, "email": email, "app": cif}[channel])
            messages["body"].append(rules.with_opt_out(text) if channel == "sms" else text)
    _copy_snapshot(campaign, members, messages, now=now)
    counts["messages"] = len(messages["key"])
    counts["rm_tasks"] = _campaign_tasks(campaign, tasks, today=today)
    campaign.status, campaign.launched_at, campaign.counts = CampaignStatus.RUNNING, now, counts
    campaign.version += 1
    campaign.save()
    return counts


def _launch_names() -> dict[str, dict]:
    """The RMs' and branches' names, for the templates' {rm} and {branch} (a few thousand rows, read once)."""
    from org.models import Branch, User

    return {"rm": {u.pk: u.display_name for u in User.objects.only("pk", "username", "first_name", "last_name")},
            "branch": dict(Branch.objects.values_list("pk", "name"))}


ANALYZE_AFTER = 10_000  # messages queued by one launch


def _copy_snapshot(campaign: Campaign, members: dict, messages: dict, *, now: dt.datetime) -> None:
    """The members and the queued messages of a launch, by COPY (the campaign's row lock and its "scheduled" status
    make this the only launch: no key can exist yet, and a duplicate would fail the whole launch, not half of it)."""
    size, sent = len(members["customer_id"]), len(messages["key"])
    due = campaign.starts_at or now
    with connection.cursor() as cur:
        copy_columns(cur.cursor, Member._meta.db_table, {
            "campaign_id": [campaign.pk] * size, **members, "outcome": [""] * size})
        copy_columns(cur.cursor, Message._meta.db_table, {
            **messages, "campaign_id": [campaign.pk] * sent, "purpose": [Message.Purpose.CAMPAIGN.value] * sent,
            "marketing": [True] * sent, "status": [Message.Status.QUEUED.value] * sent, "due_at": [due] * sent,
            "created_at": [now] * sent, "attempts": [0] * sent, "last_error": [""] * sent,
            "cancel_reason": [""] * sent, "provider_ref": [""] * sent})
        if sent >= ANALYZE_AFTER:  # fresh statistics for the dispatcher's plan, not autovacuum's next round
            cur.execute(f"ANALYZE {Message._meta.db_table}, {Member._meta.db_table}")


def _campaign_tasks(campaign: Campaign, tasks: list[tuple[str, int, int, str]], *, today: dt.date) -> int:
    """An RM task per customer to be contacted through their RM, each once (a care key per campaign and customer)."""
    with translation.override(settings.LANGUAGE_CODE):
        title = _("Campaign “%(campaign)s”: contact %(name)s")
    by_key = {key: (pk, rm_id, name) for key, pk, rm_id, name in tasks}
    claimed = sorted(care.claim_keys([(key, v[0]) for key, v in by_key.items()]))
    made = customer_services.tasks_schedule(rows=[
        (by_key[k][0], by_key[k][1], title % {"campaign": campaign.name, "name": by_key[k][2]}, today)
        for k in claimed])
    care._link_tasks(claimed, [t.pk for t in made])
    return len(made)


def campaigns_dispatch(*, now: dt.datetime) -> dict:
    """The campaign dispatcher (beat, every minute): launch every approved campaign whose start has come; complete
    every running one whose attribution window has closed (its conversions counted first)."""
    launched = completed = 0
    for pk in Campaign.objects.filter(status=CampaignStatus.SCHEDULED, starts_at__lte=now).values_list(
            "pk", flat=True):
        campaign_launch(campaign_id=pk, now=now)
        launched += 1
    for campaign in Campaign.objects.filter(status=CampaignStatus.RUNNING, launched_at__isnull=False):
        if campaign.launched_at + dt.timedelta(days=campaign.attribution_days) <= now:
            conversions_record(campaign=campaign, now=now)
            Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.RUNNING).update(
                status=CampaignStatus.COMPLETED, finished_at=now)
            completed += 1
    return {"launched": launched, "completed": completed}


@transaction.atomic
def conversions_record(*, campaign: Campaign, now: dt.datetime) -> int:
    """Members (treated and control alike) who opened a product of the campaign's type in core banking within the
    attribution window count as converted (the holding's opening date). Returns how many are converted."""
    if not campaign.product_type or campaign.launched_at is None:
        return Member.objects.filter(campaign=campaign, converted_at__isnull=False).count()
    start = timezone.localtime(campaign.launched_at).date()
    end = start + dt.timedelta(days=campaign.attribution_days)
    opened = Holding.objects.filter(customer_id=OuterRef("customer_id"), product_type=campaign.product_type,
                                    opened_on__gte=start, opened_on__lte=end)
    Member.objects.filter(campaign=campaign, converted_at__isnull=True).filter(Exists(opened)).update(
        converted_at=now)
    return Member.objects.filter(campaign=campaign, converted_at__isnull=False).count()


@transaction.atomic
def outcome_record(*, actor, member: Member, outcome: str, now: dt.datetime) -> Member:
    """An RM records what came of a campaign contact (reached, not reached, interested, converted, declined)."""
    from .constants import Outcome

    if not can(actor, "campaigns.record_outcome"):
        raise NotPermitted
    if outcome not in Outcome.values:
        raise ValidationFailed(fields={"outcome": [_("Choose an outcome.")]})
    visible = scope_of(actor).filter(Member.objects.filter(pk=member.pk), branch="customer__branch_id",
                                     rm="customer__rm_id")
    member = visible.select_for_update(of=("self",)).select_related("campaign").first()
    if member is None:
        raise NotPermitted
    if member.excluded:
        raise Conflict(_("This customer was not contacted in the campaign."))
    member.outcome, member.outcome_at = outcome, now
    if outcome == Outcome.CONVERTED and member.converted_at is None:
        member.converted_at = now
    member.save(update_fields=["outcome", "outcome_at", "converted_at"])
    return member


