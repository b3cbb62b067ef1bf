"""Scoped reads. Every page and endpoint that shows customer data starts from these; who sees which
customers is ``org.access``'s to say."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import F, Func, IntegerField, Q, QuerySet, Value
from django.db.models.functions import Length, Right, StrIndex, Upper
from django.db.models.lookups import Exact, GreaterThan, GreaterThanOrEqual
from django.utils.translation import gettext as _

from org.access import scope_of
from org.models import Branch, User

from . import extensions, rules
from .constants import AUDITED_FIELDS, TaskStatus
from .models import Customer, CustomerChange, FinancialSnapshot, FollowUpTask, Holding, Interaction

# The fields of a customer list row (pages, API lists, changes feed).
CUSTOMER_LIST_FIELDS = (
    "id", "cif", "kind", "name", "gender", "birth_date", "id_type", "id_number", "mobile", "credit_code",
    "lifecycle_stage", "risk_level", "tags", "aum_latest", "last_txn_date", "branch", "rm", "do_not_contact",
    "updated_at",
)


def customers_visible_to(user) -> QuerySet[Customer]:
    """The customers ``user`` (a member of staff or an API key) may see."""
    return scope_of(user).filter(Customer.objects.all(), branch="branch_id", rm="rm_id")


class _OctetLength(Func):
    function = "OCTET_LENGTH"
    output_field = IntegerField()


def _name_contains(text: str) -> Q:
    """``name`` contains ``text``, ignoring case: the same rows as ``Q(name__icontains=text)``.

    Written for the query planner, which multiplies this test's estimated selectivity with the
    bigram index's (it cannot know that both say the same thing):

    - ``upper(name) LIKE '%q%'`` is estimated at 0.5 %, so a broad fragment (北京) was planned as a
      handful of rows and the list page's select_related joins became nested loops over every staff row;
    - ``strpos(upper(name), upper(q)) > 0`` alone is estimated at 1/3, so for a common name the
      planner walks the AUM index and filters row by row, reading tens of thousands of heap rows
      for a first page of 50;
    - with two more conditions that every match fulfils anyway (a name containing q is at least as
      long as q, in characters and in bytes), each estimated at 1/3, the planner expects ~4 % of the
      bigram candidates: it reads the candidates through the bigram index and sorts them, and only
      walks the AUM index for fragments shared by more than ~1 % of the rows, where the walk stops early.
    The figures are in bench/README.md (bench/bench_lookup.py, bench/bench_pages.py).
    """
    q = Value(text)
    return Q(GreaterThan(StrIndex(Upper("name"), Upper(q)), 0),
             GreaterThanOrEqual(Length("name"), Length(q)),
             GreaterThanOrEqual(_OctetLength("name"), Length(q)))


def customer_search(qs: QuerySet[Customer], query: str) -> QuerySet[Customer]:
    """One box: exact CIF, mobile or ID number, the last four digits of a mobile, or a name fragment (any 2+
    characters, or a 1-character prefix)."""
    terms = rules.search_terms(query)
    if not terms.text:
        return qs
    cond = Q(cif=terms.cif)
    if terms.mobile:
        cond |= Q(mobile=terms.mobile)
    if terms.mobile_last4:
        # The expression of the index cust_mobile_suffix, so the planner uses it and its statistics.
        cond |= Q(Exact(Right("mobile", 4), Value(terms.mobile_last4)))
    if terms.id_number:
        cond |= Q(id_number=terms.id_number)
    if terms.name_bigrams:
        cond |= Q(name_bigrams__contains=terms.name_bigrams) & _name_contains(terms.text)
    else:
        cond |= Q(name__startswith=terms.text)
    return qs.filter(cond)


def customer_list(user, *, query: str = "") -> QuerySet[Customer]:
    qs = customers_visible_to(user).select_related("rm", "branch")
    return customer_search(qs, query)


def customer_get(user, pk) -> Customer:
    """The customer if ``user`` may see it; Customer.DoesNotExist otherwise (callers answer 404)."""
    return customers_visible_to(user).select_related("rm", "branch").get(pk=pk)


def customer_aum_trend(customer: Customer, *, months: int = 12) -> list[FinancialSnapshot]:
    rows = list(FinancialSnapshot.objects.filter(customer=customer).order_by("-period")[:months])
    return rows[::-1]


@dataclass(frozen=True)
class HoldingRow:
    """A product held, as the 360 page shows it: labels, and the account number masked."""

    product_name: str
    product_type: str
    account: str
    product_risk: str
    balance: Decimal
    matures_on: date | None
    status: str


@dataclass(frozen=True)
class HistoryRow:
    """A profile-history entry as the 360 page shows it: who, how, and each field's readable, masked
    old → new values."""

    at: datetime
    who: str
    source: str
    created: bool
    changes: list[tuple[str, str, str]]  # (field label, old, new)


@dataclass(frozen=True)
class Customer360:
    """Everything the 360 page shows of one customer, ready to render."""

    customer: Customer
    masked: dict[str, str]  # id_number, mobile, credit_code
    trend: dict[str, list[str]]  # "periods" (YYYY-MM) and "aum", oldest first
    holdings: list[HoldingRow]
    interactions: list[Interaction]
    open_tasks: list[FollowUpTask]
    history: list[HistoryRow]


def customer_360(customer: Customer) -> Customer360:
    """The 360 page's read model of a customer (fetched through ``customer_get``), in a fixed number of queries."""
    trend = customer_aum_trend(customer)
    return Customer360(
        customer=customer,
        masked={f: rules.MASKERS[f](getattr(customer, f)) for f in ("id_number", "mobile", "credit_code")},
        trend={"periods": [s.period.strftime("%Y-%m") for s in trend], "aum": [str(s.aum) for s in trend]},
        holdings=[HoldingRow(product_name=h.product_name, product_type=h.get_product_type_display(),
                             account=rules.mask_account_no(h.account_no), product_risk=h.product_risk,
                             balance=h.balance, matures_on=h.matures_on, status=h.get_status_display())
                  for h in Holding.objects.filter(customer=customer).order_by("product_type", "id")],
        interactions=list(Interaction.objects.filter(customer=customer).select_related("staff")[:20]),
        open_tasks=list(FollowUpTask.objects.filter(customer=customer, status=TaskStatus.OPEN)
                        .select_related("assignee").order_by("due_date")),
        history=_with_extension_history(_history_rows(customer_history(customer)), customer),
    )


def _with_extension_history(rows: list[HistoryRow], customer: Customer, *, limit: int = 20) -> list[HistoryRow]:
    """The profile history with the entries other apps add (``customers.extensions.customer_history``, e.g. tier
    changes), newest first."""
    extra = extensions.history(customer)
    if not extra:
        return rows
    return sorted([*rows, *extra], key=lambda row: row.at, reverse=True)[:limit]


def _history_rows(entries: list[CustomerChange]) -> list[HistoryRow]:
    """Field labels and readable, masked old → new values of history entries (two queries at most)."""
    ids = {"rm": set(), "branch": set()}
    for entry in entries:
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

    rows = []
    for entry in entries:
        changes = []
        for f, (old, new) in entry.changes.items():
            name = f.removesuffix("_id")
            changes.append((Customer._meta.get_field(name).verbose_name, readable(name, old), readable(name, new)))
        rows.append(HistoryRow(at=entry.at, who=str(entry.actor or entry.api_key or "—"),
                               source=entry.get_source_display(), created=entry.created, changes=changes))
    return rows


def customer_history(customer: Customer, *, limit: int = 20) -> list:
    """The latest profile-history entries, newest first; a creation entry written by a bulk load (which
    stores no values) gets the values the customer was created with, rebuilt from the current values
    and the entries after it (all of them are in the list whenever the creation entry is)."""
    entries = list(customer.changes.select_related("actor", "api_key")[:limit])
    for i, entry in enumerate(entries):
        if entry.created and not entry.changes:
            current = {f: rules.jsonable(getattr(customer, f)) for f in AUDITED_FIELDS}
            initial = rules.creation_values(current, [e.changes for e in entries[:i]])
            entry.changes = {f: [None, v] for f, v in initial.items()}
    return entries


def snapshots_visible_to(user) -> QuerySet[FinancialSnapshot]:
    return FinancialSnapshot.objects.filter(customer__in=customers_visible_to(user)).select_related("customer")


def holdings_visible_to(user) -> QuerySet[Holding]:
    return Holding.objects.filter(customer__in=customers_visible_to(user)).select_related("customer")


def interactions_visible_to(user) -> QuerySet[Interaction]:
    return Interaction.objects.filter(customer__in=customers_visible_to(user)).select_related("customer", "staff")


def tasks_visible_to(user) -> QuerySet[FollowUpTask]:
    return FollowUpTask.objects.filter(customer__in=customers_visible_to(user)).select_related(
        "customer", "assignee")


def my_tasks(user, *, status: str = TaskStatus.OPEN) -> QuerySet[FollowUpTask]:
    """The user's tasks of one status: open ones by due date, closed ones newest first (by completion)."""
    qs = tasks_visible_to(user).filter(assignee_id=user.pk, status=status)
    if status == TaskStatus.OPEN:
        return qs.order_by("due_date", "id")
    return qs.order_by(F("completed_at").desc(nulls_last=True), "-id")




_FEED_HORIZON_SQL = """
    SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint,
           array(SELECT l.transactionid::text::bigint
                 FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted
                   AND l.pid IS DISTINCT FROM pg_backend_pid()
                   AND (a.datname = current_database() OR l.pid IS NULL))
"""


def _feed_horizon() -> int:
    """The oldest transaction of this database still running (or the next one to start).

    Everything written by older transactions is committed or rolled back for good. Transactions of
    other databases on the same server cannot write here, so they do not hold the feed back.
    pg_locks gives 32-bit ids; they are widened with the epoch of the snapshot's 64-bit xmax.
    """
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(_FEED_HORIZON_SQL)
        xmax, running = cur.fetchone()
    epoch = xmax & ~0xFFFFFFFF
    widened = [epoch | x if (epoch | x) <= xmax else (epoch | x) - (1 << 32) for x in running]
    return min([xmax, *widened])


def customer_changes(user, *, after: tuple[int, int] | None, limit: int) -> tuple[list[dict], tuple[int, int] | None]:
    """Customers changed since a cursor, oldest change first: (rows, cursor of the last row).

    Rows are paged by (id of the transaction that last wrote them, id). Only transactions older than
    every transaction of this database still running are served, so a write that commits later can
    never land behind a cursor already handed out: a client that resumes from its last cursor misses
    nothing. A long transaction in this database delays the feed (never loses a change).
    """
    horizon = _feed_horizon()
    qs = customers_visible_to(user).filter(change_txid__lt=horizon)
    if after is not None:
        qs = qs.filter(Q(change_txid__gt=after[0]) | Q(change_txid=after[0], id__gt=after[1]))
    rows = list(qs.order_by("change_txid", "id").values(*CUSTOMER_LIST_FIELDS, "change_txid")[:limit])
    last = (rows[-1]["change_txid"], rows[-1]["id"]) if rows else after
    for row in rows:
        del row["change_txid"]
    return rows, last
