"""Event-triggered care (DOMAIN.md §5, follow-up plans): an RM task when something happened to a customer — a higher
value or card tier in the run in force than in the run before it (a congratulation), a deposit or wealth holding
maturing soon, the customer turning dormant (a win-back call), a card tier on the downgrade watch (a retention
call). Set-based: one query per scan over the whole book, returning only the events whose care key is not there yet
(an anti-join on ``CareKey.key``), then the tasks in bulk; each task is created once per event through its care key
(``care.schedule_once``), so a scan run twice, or on two workers, creates nothing new. A customer without an RM gets
no task (counted as ``no_rm``, again on every run while the event lasts), nor does a do-not-contact customer
(``do_not_contact``): these calls are the bank's offers, not service notices.

The satisfaction call after a resolved complaint is made by the complaints service itself, in the transaction that
resolves the complaint (nothing imports complaints; ``customers.services.task_schedule_once``)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.db.models import CharField, Exists, F, Func, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.utils import translation
from django.utils.translation import gettext as _

from customers.constants import HoldingStatus, ProductType
from customers.models import Customer, Holding
from segmentation import rules as segmentation_rules
from segmentation import selectors as segmentation
from segmentation.constants import CardTier, ValueTier
from segmentation.models import Assignment

from . import care, rules
from .models import CareKey

# The holdings whose maturity the RM is told of: deposits and wealth products (the money to keep in the bank).
MATURING = (ProductType.DEPOSIT, ProductType.TIME_DEPOSIT, ProductType.WEALTH)
VALUE_ORDER = tuple(reversed(ValueTier.values))  # lowest first (ValueTier is best first)
CARD_ORDER = tuple(CardTier.values)  # lowest first


def _key(prefix: str, *parts) -> Concat:
    """A care key computed by the database (``prefix:part:part``), so the query that finds the events can leave
    out those already done and the key is written in one place."""
    pieces: list = [Value(prefix)]
    for part in parts:
        pieces += [Value(":"), part]
    return Concat(*pieces, output_field=CharField())


def _text(field: str) -> Cast:
    return Cast(field, CharField())


def _iso(field: str) -> Func:
    return Func(F(field), Value("YYYY-MM-DD"), function="to_char", output_field=CharField())


def _new(qs, key):
    """``qs`` with its event's care key as ``care_key``, without the events done already."""
    return qs.annotate(care_key=key).filter(~Exists(CareKey.objects.filter(key=OuterRef("care_key"))))


def _tasks(rows, task) -> dict:
    """Tasks for ``rows`` of (care key, customer id, RM id, do not contact, *values): the RM's task per new key,
    ``task(*values)`` giving its (title, due date), the title in the bank's language; no task without an RM or for
    a do-not-contact customer."""
    counts = {"tasks": 0, "no_rm": 0, "do_not_contact": 0}
    wanted = {}
    with translation.override(settings.LANGUAGE_CODE):
        for key, customer_id, rm_id, dnc, *values in rows:
            if rm_id is None:
                counts["no_rm"] += 1
            elif dnc:
                counts["do_not_contact"] += 1
            else:
                wanted[key] = (customer_id, rm_id, *task(*values))
    counts["tasks"] = care.schedule_once(wanted)
    return counts


# ---- a tier upgrade ----------------------------------------------------------------------------------------------

UPGRADES_SQL = """
SELECT k.key, a.customer_id, c.rm_id, c.do_not_contact, c.name, p.value_tier, a.value_tier, p.card_tier, a.card_tier
FROM {assignment} a
JOIN {assignment} p ON p.run_id = %(previous)s AND p.customer_id = a.customer_id
JOIN {customer} c ON c.id = a.customer_id
CROSS JOIN LATERAL (SELECT 'upgrade:' || a.run_id || ':' || a.customer_id AS key) k
WHERE a.run_id = %(run)s AND (a.value_tier <> p.value_tier OR a.card_tier <> p.card_tier)
  AND NOT EXISTS (SELECT 1 FROM {carekey} done WHERE done.key = k.key)
ORDER BY a.customer_id
"""


@transaction.atomic
def upgrade_scan(*, day: dt.date) -> dict:
    """A congratulation task for the RM of every customer whose value tier or card tier in the run in force is
    higher than in the run before it (``segmentation.selectors.previous_run``); once per run and customer. A first
    tier (no row in the run before, or unclassified) is no upgrade. One query: the customers whose tiers changed."""
    run = segmentation.current_run()
    previous = segmentation.previous_run(run) if run is not None else None
    if previous is None:
        return {"tasks": 0, "no_rm": 0, "do_not_contact": 0}
    sql = UPGRADES_SQL.format(assignment=Assignment._meta.db_table, customer=Customer._meta.db_table,
                              carekey=CareKey._meta.db_table)
    with connection.cursor() as cur:
        cur.execute(sql, {"run": run.pk, "previous": previous.pk})
        changed = cur.fetchall()
    rows = []
    for key, customer_id, rm_id, dnc, name, value_before, value_after, card_before, card_after in changed:
        raised = []
        if rules.tier_raised(value_before, value_after, VALUE_ORDER):
            raised.append(ValueTier(value_after))
        if rules.tier_raised(card_before, card_after, CARD_ORDER):
            raised.append(CardTier(card_after))
        if raised:
            rows.append((key, customer_id, rm_id, dnc, name, raised))
    return _tasks(rows, lambda name, raised: (_("Congratulate %(name)s: now %(tiers)s") % {
        "name": name, "tiers": " / ".join(str(tier.label) for tier in raised)}, day))


# ---- a holding maturing ------------------------------------------------------------------------------------------

@transaction.atomic
def maturity_scan(*, day: dt.date) -> dict:
    """A task for the RM of every customer with an active deposit or wealth holding (of at least
    ``CARE_MATURITY_MIN_BALANCE``) maturing within ``CARE_MATURITY_DAYS`` days of ``day`` (both ends included), due
    on the maturity date; once per holding and maturity date (a holding rolled over to a new date is told again)."""
    first, last = rules.maturity_window(day, settings.CARE_MATURITY_DAYS)
    maturing = Holding.objects.filter(status=HoldingStatus.ACTIVE, product_type__in=MATURING,
                                      matures_on__range=(first, last),
                                      balance__gte=settings.CARE_MATURITY_MIN_BALANCE)
    rows = (_new(maturing, _key("maturity", _text("pk"), _iso("matures_on"))).order_by("pk")
            .values_list("care_key", "customer_id", "customer__rm_id", "customer__do_not_contact", "customer__name",
                         "product_name", "balance", "matures_on"))
    return _tasks(rows, lambda name, product, balance, matures_on: (_(
        "%(product)s of %(name)s matures on %(day)s (%(amount)s yuan): talk about what comes next") % {
        "product": product, "name": name, "day": matures_on.isoformat(), "amount": f"{balance:,.2f}"}, matures_on))


# ---- a customer turning dormant ----------------------------------------------------------------------------------

@transaction.atomic
def dormancy_scan(*, day: dt.date) -> dict:
    """A win-back call for the RM of every customer who turned dormant lately: no transaction for
    ``CARE_DORMANT_DAYS`` days or more, for at most ``CARE_DORMANT_CATCH_UP_DAYS`` days longer (rules.dormancy_window);
    once per customer and last transaction date, so a customer who transacts and turns dormant again is called
    again."""
    first, last = rules.dormancy_window(day, settings.CARE_DORMANT_DAYS, settings.CARE_DORMANT_CATCH_UP_DAYS)
    dormant = Customer.objects.filter(last_txn_date__range=(first, last))
    rows = (_new(dormant, _key("dormant", _text("pk"), _iso("last_txn_date"))).order_by("pk")
            .values_list("care_key", "pk", "rm_id", "do_not_contact", "name", "last_txn_date"))
    return _tasks(rows, lambda name, last_txn: (_("Win %(name)s back: no transaction since %(day)s") % {
        "name": name, "day": last_txn.isoformat()}, day))


# ---- a card tier about to be lowered -----------------------------------------------------------------------------

@transaction.atomic
def downgrade_watch_scan(*, day: dt.date) -> dict:
    """A retention task for the RM of every customer on the downgrade watch of the run in force (below the card tier
    in force, not overridden: ``segmentation.selectors.downgrade_watch_in_book``), with the AUM that keeps the tier
    and the monthly runs left; once per run and customer."""
    run = segmentation.current_run()
    if run is None:
        return {"tasks": 0, "no_rm": 0, "do_not_contact": 0}
    policy = run.policy
    watch = _new(segmentation.downgrade_watch_in_book(run), _key("downgrade-watch", _text("run_id"),
                                                                 _text("customer_id")))
    rows = (watch.order_by("customer_id")
            .values_list("care_key", "customer_id", "customer__rm_id", "customer__do_not_contact", "customer__name",
                         "card_tier", "months_below", "aum_avg"))

    def title(name, tier, months_below, aum):
        left = segmentation_rules.runs_before_downgrade(months_below, segmentation.downgrade_needed(policy, tier))
        needed = segmentation.card_tier_from(policy, tier)
        return _("Keep %(name)s at %(tier)s: AUM %(aum)s of %(needed)s needed, downgrade in %(left)s monthly "
                 "run(s)") % {"name": name, "tier": CardTier(tier).label, "left": left,
                              "aum": f"{aum:,.0f}" if aum is not None else "—", "needed": f"{needed:,.0f}"}, day

    return _tasks(rows, title)


# ---- the nightly job ---------------------------------------------------------------------------------------------

SCANS = {"upgrades": upgrade_scan, "maturities": maturity_scan, "dormant": dormancy_scan,
         "downgrade_watch": downgrade_watch_scan}


def care_events(*, day: dt.date) -> dict:
    """Every event scan for ``day`` (each in its own transaction: a scan that fails leaves the others' tasks, and a
    rerun does only what is missing): the tasks created per event, and the customers skipped (no RM, do not
    contact) over all of them."""
    counts = {"skipped_no_rm": 0, "skipped_do_not_contact": 0}
    for name, scan in SCANS.items():
        done = scan(day=day)
        counts[name] = done["tasks"]
        counts["skipped_no_rm"] += done["no_rm"]
        counts["skipped_do_not_contact"] += done["do_not_contact"]
    return counts
