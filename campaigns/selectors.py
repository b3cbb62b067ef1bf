"""Scoped reads of campaigns: head office sees every campaign; a supervisor or an RM the bank's campaigns and those of
their branch subtree; keys with campaigns:read those of their branches. A campaign's members and results only over the
customers the reader sees (an RM: their book's)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import CharField, Count, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils.translation import gettext as _

from customers.constants import TaskStatus
from customers.models import CustomerChange
from org.access import scope_of

from . import rules
from .constants import Exclusion, Outcome
from .models import Campaign, CareKey, Member, Message


def campaigns_visible_to(actor) -> QuerySet[Campaign]:
    scope = scope_of(actor)
    if scope.everything:
        return Campaign.objects.all()
    if scope.root_id is None:
        return Campaign.objects.none()
    return Campaign.objects.filter(Q(branch__isnull=True) | Q(branch_id__in=scope.branch_ids))


def campaign_get(actor, pk) -> Campaign:
    """One campaign the actor sees (DoesNotExist otherwise: the page answers 404)."""
    try:
        return campaigns_visible_to(actor).select_related("branch", "created_by", "approved_by").get(pk=int(pk))
    except (ValueError, TypeError, OverflowError):
        raise Campaign.DoesNotExist from None


def members_visible_to(actor, campaign: Campaign) -> QuerySet[Member]:
    """The members of ``campaign`` whose customers the actor sees (an RM: their book's)."""
    return scope_of(actor).filter(Member.objects.filter(campaign=campaign), branch="customer__branch_id",
                                  rm="customer__rm_id")


# ---- effectiveness -------------------------------------------------------------------------------------------------

CONSENTS = ("consent_sms", "consent_email", "consent_phone", "consent_app")


def _withdrawn() -> Q:
    """A profile change that turned a consent off or do-not-contact on (changes are ``field: [old, new]``)."""
    q = Q(changes__do_not_contact__1=True)
    for field in CONSENTS:
        q |= Q(**{f"changes__{field}__1": False})
    return q


@dataclass(frozen=True)
class Funnel:
    tier: str  # a value tier, "" for the whole campaign
    label: str
    targeted: int  # the audience as snapshotted
    control: int
    left_out: int  # unsuitable or without a consented channel: counted, never messaged
    treated: int  # contacted: a message queued or an RM task given
    contacted: int  # the message went out, or the RM recorded an outcome
    responded: int  # interested, converted or declined
    converted: int  # treated members who converted (RM's outcome or a product opened in core banking)
    opted_out: int  # treated members who withdrew a consent after the launch
    control_converted: int
    uplift: rules.Uplift | None

    def rate(self, part: int) -> Decimal | None:
        return (Decimal(part * 100) / self.treated).quantize(Decimal("0.1")) if self.treated else None

    def _points(self, value: float | None) -> Decimal | None:
        return None if value is None else (Decimal(str(value)) * 100).quantize(Decimal("0.1"))

    @property
    def uplift_points(self) -> Decimal | None:
        """The uplift in percentage points (and the interval's ends below)."""
        return self._points(self.uplift.uplift) if self.uplift else None

    @property
    def rate_treated(self) -> Decimal | None:
        return self._points(self.uplift.treated_rate) if self.uplift else None

    @property
    def rate_control(self) -> Decimal | None:
        return self._points(self.uplift.control_rate) if self.uplift else None

    @property
    def uplift_low(self) -> Decimal | None:
        return self._points(self.uplift.low) if self.uplift else None

    @property
    def uplift_high(self) -> Decimal | None:
        return self._points(self.uplift.high) if self.uplift else None

    @property
    def steps(self) -> list[tuple[str, int, Decimal | None]]:
        return [(str(_("Targeted")), self.targeted, None), (str(_("Contacted")), self.treated, None),
                (str(_("Sent or reached")), self.contacted, self.rate(self.contacted)),
                (str(_("Responded")), self.responded, self.rate(self.responded)),
                (str(_("Converted")), self.converted, self.rate(self.converted)),
                (str(_("Opted out")), self.opted_out, self.rate(self.opted_out))]


def campaign_results(actor, campaign: Campaign) -> tuple[Funnel, list[Funnel]]:
    """The campaign's funnel (targeted → contacted → sent/reached → responded → converted → opted out) over the
    members the actor sees, as a whole and per value tier at launch, with the uplift against the control group and
    its 95 % confidence interval. One GROUP BY query (three semi-joins: the sent message, the done RM task, a
    consent withdrawn after the launch)."""
    from segmentation.selectors import tier_keys

    key = Concat(Value(f"campaign:{campaign.pk}:"), Cast(OuterRef("customer_id"), CharField()))
    sent = Exists(Message.objects.filter(key=key, status=Message.Status.SENT))
    task_done = Exists(CareKey.objects.filter(key=key, task__status=TaskStatus.DONE))
    since = campaign.launched_at or campaign.created_at
    withdrew = Exists(CustomerChange.objects.filter(_withdrawn(), customer_id=OuterRef("customer_id"), at__gte=since))
    treated = Q(excluded="")
    reached = Q(outcome__in=[Outcome.REACHED, Outcome.INTERESTED, Outcome.CONVERTED, Outcome.DECLINED])
    responded = Q(outcome__in=[Outcome.INTERESTED, Outcome.CONVERTED, Outcome.DECLINED])
    rows = (members_visible_to(actor, campaign).annotate(sent=sent, task_done=task_done, withdrew=withdrew)
            .values("value_tier").order_by().annotate(
                targeted=Count("pk"), control=Count("pk", filter=Q(excluded=Exclusion.CONTROL)),
                left_out=Count("pk", filter=Q(excluded__in=[Exclusion.UNSUITABLE, Exclusion.NO_CHANNEL])),
                treated=Count("pk", filter=treated),
                contacted=Count("pk", filter=treated & (Q(sent=True) | Q(task_done=True) | reached)),
                responded=Count("pk", filter=treated & responded),
                converted=Count("pk", filter=treated & Q(converted_at__isnull=False)),
                opted_out=Count("pk", filter=treated & Q(withdrew=True)),
                control_converted=Count("pk", filter=Q(excluded=Exclusion.CONTROL, converted_at__isnull=False))))
    by_tier = {row.pop("value_tier"): row for row in rows}
    labels = dict(tier_keys("value"))
    tiers = [_funnel(tier, labels.get(tier, tier) if tier else str(_("Unclassified")), by_tier[tier])
             for tier in [*labels, *sorted(set(by_tier) - set(labels))] if tier in by_tier]
    total = {name: sum(row[name] for row in by_tier.values()) for name in FUNNEL_FIELDS}
    return _funnel("", str(_("All")), total), tiers


FUNNEL_FIELDS = ("targeted", "control", "left_out", "treated", "contacted", "responded", "converted", "opted_out",
                 "control_converted")


def _funnel(tier: str, label: str, row: dict) -> Funnel:
    return Funnel(tier=tier, label=label, **{name: row.get(name, 0) for name in FUNNEL_FIELDS},
                  uplift=rules.uplift(row.get("treated", 0), row.get("converted", 0), row.get("control", 0),
                                      row.get("control_converted", 0)))


def exclusion_counts(actor, campaign: Campaign) -> dict[str, int]:
    return dict(members_visible_to(actor, campaign).exclude(excluded="").values("excluded").order_by()
                .annotate(n=Count("pk")).values_list("excluded", "n"))


def audience_labels(campaign: Campaign) -> list[tuple[str, str]]:
    """The campaign's audience filter as (what, which) in words, for its page ("All customers in scope" when empty).
    Two queries at most (the branch's and the RM's names)."""
    from customers.constants import LifecycleStage, ProductType, RiskLevel
    from org.models import Branch, User
    from segmentation.constants import CardTier, ValueTier

    a = campaign.audience or {}
    lists = {"value_tier": (_("Customer tier"), ValueTier), "card_tier": (_("Card tier"), CardTier),
             "lifecycle_stage": (_("Lifecycle stage"), LifecycleStage), "risk_level": (_("Risk tolerance"), RiskLevel)}
    rows = [(label, ", ".join(str(dict(choices.choices).get(v, v)) for v in a[key]))
            for key, (label, choices) in lists.items() if a.get(key)]
    if a.get("tags"):
        rows.append((_("Tags"), ", ".join(a["tags"])))
    if a.get("branch"):
        rows.append((_("Branch"), str(Branch.objects.filter(pk=a["branch"]).first() or a["branch"])))
    if a.get("rm"):
        rows.append((_("Relationship manager"), str(User.objects.filter(pk=a["rm"]).first() or a["rm"])))
    if a.get("age_min") is not None or a.get("age_max") is not None:
        rows.append((_("Age"), f"{a.get('age_min', '')}–{a.get('age_max', '')}"))
    if a.get("birthday_month"):
        rows.append((_("Birthday month"), str(a["birthday_month"])))
    products = dict(ProductType.choices)
    for key, label in (("product_held", _("Holds the product")), ("product_not_held", _("Does not hold the product"))):
        if a.get(key):
            rows.append((label, str(products.get(a[key], a[key]))))
    return rows or [(_("Audience"), _("All customers in scope"))]
