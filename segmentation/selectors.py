"""Scoped reads of segmentation. Every read of assignments goes through ``org.access.scope_of``."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import EmptyResultSet
from django.core.paginator import Page
from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _

from core.pagination import CappedPaginator
from customers.models import Interaction
from org.access import scope_of
from org.models import Branch

from .constants import CardTier, PolicyStatus, RunStatus, ValueTier
from .models import Assignment, Policy, Run


def current_run() -> Run | None:
    """The run whose assignments are in force (None before the first completed run)."""
    return Run.objects.select_related("policy").filter(is_current=True).first()


def published_policy() -> Policy | None:
    return Policy.objects.filter(status=PolicyStatus.PUBLISHED).first()


def assignments(actor, *, run: Run | None = None) -> QuerySet[Assignment]:
    """The assignments of ``run`` (default: the run in force) that ``actor`` may see: its customer scope, by the
    customer's branch and RM as the run recorded them."""
    run = run or current_run()
    if run is None:
        return Assignment.objects.none()
    return scope_of(actor).filter(Assignment.objects.filter(run=run), branch="branch_id", rm="rm_id")


# ---- policies and runs ---------------------------------------------------------------------------------------


# ---- the RM's book: customer tiers, overdue contacts, downgrade watch -------------------------------------------


# ---- supervision: pyramid, Pareto, migration matrix, compliance -------------------------------------------------
# Every figure is one aggregate query in PostgreSQL over the run's assignment rows in the actor's scope (plus, for a
# supervisor, the one query for the ids of their branch subtree): no row per customer reaches Python.

UNCLASSIFIED = "unclassified"  # rows of a run without a tier
NOT_IN_RUN = "absent"  # migration matrix: the customer has no row in that run (or none in the actor's scope)
PARETO_TOP = 20  # "the top 20 % of customers produce N % of the contribution"
DIMENSIONS = {"value": "value_tier", "card": "card_tier"}  # migration matrix: which tier moves


def _percent(part, whole) -> Decimal | None:
    """``part`` as a percentage of ``whole`` (one decimal); None when the whole is not positive."""
    if whole is None or whole <= 0:
        return None
    return (Decimal(part or 0) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


def _rows(scope, run: Run) -> QuerySet[Assignment]:
    """The rows of ``run`` in ``scope`` (an ``org.access.AccessScope``): ``assignments`` with the scope made once, so
    the figures of one page share its one query for the branch ids."""
    return scope.filter(Assignment.objects.filter(run=run), branch="branch_id", rm="rm_id")


def done_runs() -> list[Run]:
    """The completed runs, newest month first (the pickers of the supervision pages)."""
    return list(Run.objects.select_related("policy").filter(status=RunStatus.DONE)
                .order_by("-as_of", "-finished_at", "-id"))


def tier_keys(dimension: str = "value") -> list[tuple[str, str]]:
    """(key, label) of the tiers of ``dimension`` best first, then unclassified."""
    tiers = list(ValueTier) if dimension == "value" else list(reversed(CardTier))
    return [(t.value, str(t.label)) for t in tiers] + [(UNCLASSIFIED, _("Unclassified"))]


@dataclass(frozen=True)
class TierFigures:
    tier: str  # a ValueTier value, UNCLASSIFIED, or "" for the total
    label: str
    customers: int
    aum: Decimal
    contribution: Decimal
    customer_share: Decimal | None  # percent of the scope's customers
    aum_share: Decimal | None  # percent of the scope's AUM
    contribution_share: Decimal | None  # percent of the scope's contribution (None when it is not positive)


@dataclass(frozen=True)
class Pyramid:
    tiers: list[TierFigures]  # best first, unclassified last
    total: TierFigures


def pyramid(actor, run: Run) -> Pyramid:
    """Per value tier of ``run``: customers, AUM (monthly daily average) and contribution score, with their shares
    of the actor's scope. One GROUP BY query (the one of ``_groups``)."""
    scope = scope_of(actor)
    return _pyramid(_groups(scope, _rows(scope, run)))


@dataclass(frozen=True)
class _Groups:
    """The run's rows in a scope counted and summed per (branch unit, value tier): at most a few hundred rows, the
    pyramid and the branch comparison are their sums. ``root``: the scope's root branch (None: everything)."""

    rows: list[dict]
    root: dict | None


def _groups(scope, scoped: QuerySet[Assignment]) -> _Groups:
    """One GROUP BY query by value tier and by the branch one level below the scope's root (its code from the branch
    path: head office → each top-level branch with its outlets; a supervisor → their branch itself ("") and each
    branch below it with its outlets), plus, for a subtree, the root branch's row."""
    if scope.everything:
        root, depth = None, 1  # the tree's roots (head office) hold one code: "/HO/"
    elif scope.root_id is not None:
        root = Branch.objects.filter(pk=scope.root_id).values("code", "name", "path").first()
        if root is None:
            return _Groups(rows=[], root=None)
        depth = root["path"].count("/") - 1
    else:
        return _Groups(rows=[], root=None)
    unit = Func(F("branch__path"), Value("/"), Value(depth + 2), function="split_part", output_field=CharField())
    rows = list(scoped.order_by().annotate(unit=unit).values("unit", "value_tier")
                .annotate(n=Count("id"), aum=Sum("aum_avg"), contribution=Sum("score")))
    for r in rows:
        r["value_tier"] = r["value_tier"] or UNCLASSIFIED
        r["aum"], r["contribution"] = r["aum"] or Decimal(0), r["contribution"] or Decimal(0)
    return _Groups(rows=rows, root=root)


def _pyramid(groups: _Groups) -> Pyramid:
    rows: dict[str, dict] = {}
    for g in groups.rows:
        tier = rows.setdefault(g["value_tier"], {"n": 0, "aum": Decimal(0), "contribution": Decimal(0)})
        for key in tier:
            tier[key] += g[key]
    customers = sum(r["n"] for r in rows.values())
    aum = sum((r["aum"] for r in rows.values()), Decimal(0))
    contribution = sum((r["contribution"] for r in rows.values()), Decimal(0))

    def figures(tier, label, n, aum_, contribution_):
        return TierFigures(tier=tier, label=label, customers=n, aum=aum_, contribution=contribution_,
                           customer_share=_percent(n, customers), aum_share=_percent(aum_, aum),
                           contribution_share=_percent(contribution_, contribution))

    empty = {"n": 0, "aum": Decimal(0), "contribution": Decimal(0)}
    tiers = [figures(key, label, *(rows.get(key, empty)[k] for k in ("n", "aum", "contribution")))
             for key, label in tier_keys("value")]
    return Pyramid(tiers=tiers, total=figures("", _("Total"), customers, aum, contribution))


@dataclass(frozen=True)
class Pareto:
    points: list[tuple[Decimal, Decimal]]  # (top x % of customers, their share % of the contribution), from (0, 0)
    customers: int  # customers with a contribution score
    top_share: Decimal | None  # what the top PARETO_TOP % produce (None without a positive total)


def _sql(qs: QuerySet) -> tuple[str, tuple] | None:
    """A queryset's SQL and parameters, None when it can match nothing (an empty scope)."""
    try:
        return qs.query.sql_with_params()
    except EmptyResultSet:
        return None


def pareto(actor, run: Run) -> Pareto:
    """The concentration of contribution: customers ranked by contribution score (best first) are cut into
    percentile buckets in SQL (bucket = ⌊(position − 1) · 100 / n⌋ + 1, so the top p % are the first ⌈p · n / 100⌉
    customers, whatever the order among equal scores); one query returns each bucket's count and sum, and the
    cumulative curve (at most 101 points) is added up here. The measured share of the top 20 % is read from the
    curve (linear between the two points around 20 %: the top 20 % of n customers are rarely whole customers)."""
    return _pareto(_rows(scope_of(actor), run))


def _pareto(scoped: QuerySet[Assignment]) -> Pareto:
    ranked = _sql(scoped.filter(score__isnull=False).order_by()
                  .annotate(pos=Window(RowNumber(), order_by=[F("score").desc(), F("customer_id").asc()]),
                            total=Window(Count("id")))
                  .values("score", "pos", "total"))
    if ranked is None:
        return Pareto(points=[], customers=0, top_share=None)
    sql, params = ranked
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (s.pos - 1) * 100 / s.total + 1 AS bucket, count(*), sum(s.score), max(s.total) "
                       f"FROM ({sql}) s GROUP BY 1 ORDER BY 1", params)
        buckets = cursor.fetchall()
    if not buckets:
        return Pareto(points=[], customers=0, top_share=None)
    n = buckets[0][3]
    whole = sum((b[2] for b in buckets), Decimal(0))
    if whole <= 0:
        return Pareto(points=[], customers=n, top_share=None)
    points, seen, produced = [(Decimal(0), Decimal(0))], 0, Decimal(0)
    for _bucket, count, score, _total in buckets:
        seen, produced = seen + count, produced + score
        points.append(((Decimal(seen) * 100 / n).quantize(Decimal("0.01")),
                       (produced * 100 / whole).quantize(Decimal("0.01"))))
    return Pareto(points=points, customers=n, top_share=_share_at(points, Decimal(PARETO_TOP)))


def _share_at(points, x: Decimal) -> Decimal:
    """The curve's value at ``x`` (linear between the two points around it)."""
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x0 <= x <= x1:
            y = y1 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
            return y.quantize(Decimal("0.1"))
    return points[-1][1].quantize(Decimal("0.1"))


@dataclass(frozen=True)
class MatrixRow:
    key: str
    label: str
    cells: list[tuple[str, int]]  # (to-tier key, customers), in column order
    total: int


@dataclass(frozen=True)
class Matrix:
    dimension: str
    columns: list[tuple[str, str]]  # (key, label): the tiers best first, unclassified, not in the run
    rows: list[MatrixRow]
    column_totals: list[int]
    total: int
    up: int  # customers now in a better tier (both runs classified)
    down: int
    same: int  # customers in the same tier (incl. unclassified in both)


def matrix_keys(dimension: str) -> list[tuple[str, str]]:
    return [*tier_keys(dimension), (NOT_IN_RUN, _("Not in the run"))]


def _tier_case(alias: str, column: str) -> str:
    return (f"CASE WHEN {alias}.customer_id IS NULL THEN '{NOT_IN_RUN}' "
            f"WHEN {alias}.{column} = '' THEN '{UNCLASSIFIED}' ELSE {alias}.{column} END")


def migration_matrix(actor, run_from: Run, run_to: Run, *, dimension: str = "value") -> Matrix:
    """From-tier × to-tier counts between two runs: both runs' rows in the actor's scope, joined on the customer
    (FULL OUTER JOIN, so customers in one run only count as "not in the run"), grouped by the pair of tiers. One
    query (see the report for its SQL)."""
    column = DIMENSIONS[dimension]
    keys = matrix_keys(dimension)
    counts: dict[tuple[str, str], int] = {}
    scope = scope_of(actor)
    sides = [_sql(_rows(scope, run).order_by().values("customer_id", column)) for run in (run_from, run_to)]
    if all(side is not None for side in sides):
        (from_sql, from_params), (to_sql, to_params) = sides
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {_tier_case('f', column)}, {_tier_case('t', column)}, count(*) "
                           f"FROM ({from_sql}) f FULL OUTER JOIN ({to_sql}) t ON t.customer_id = f.customer_id "
                           f"GROUP BY 1, 2", (*from_params, *to_params))
            counts = {(a, b): n for a, b, n in cursor.fetchall()}
    rank = {key: i for i, (key, _label) in enumerate(keys[:-2])}  # the classified tiers, best first
    up = sum(n for (a, b), n in counts.items() if a in rank and b in rank and rank[b] < rank[a])
    down = sum(n for (a, b), n in counts.items() if a in rank and b in rank and rank[b] > rank[a])
    rows = []
    for key, label in keys:
        cells = [(to, counts.get((key, to), 0)) for to, _label in keys]
        rows.append(MatrixRow(key=key, label=label, cells=cells, total=sum(n for _to, n in cells)))
    return Matrix(dimension=dimension, columns=keys, rows=rows,
                  column_totals=[sum(counts.get((a, b), 0) for a, _la in keys) for b, _lb in keys],
                  total=sum(counts.values()), up=up, down=down,
                  same=sum(n for (a, b), n in counts.items() if a == b))


def _tier_filter(tier: str, column: str) -> Q:
    return Q(**{column: "" if tier == UNCLASSIFIED else tier})


def movers(actor, run_from: Run, run_to: Run, from_tier: str, to_tier: str, *, dimension: str = "value",
           page: int | str | None = 1, per_page: int = 50) -> Page:
    """The customers of one cell of the migration matrix (a page of Assignment rows of ``run_to``, or of
    ``run_from`` for those no longer in ``run_to``; customer, branch and RM loaded), best score first.
    Unknown tier keys match nobody."""
    column = DIMENSIONS[dimension]
    known = {key for key, _label in matrix_keys(dimension)}
    if from_tier not in known or to_tier not in known or from_tier == to_tier == NOT_IN_RUN:
        rows = Assignment.objects.none()
    else:
        base_run, other_run, base_tier, other_tier = (
            (run_from, run_to, from_tier, to_tier) if to_tier == NOT_IN_RUN else (run_to, run_from, to_tier, from_tier))
        scope = scope_of(actor)
        other = _rows(scope, other_run).filter(customer_id=OuterRef("customer_id"))
        rows = _rows(scope, base_run).filter(_tier_filter(base_tier, column))
        if other_tier == NOT_IN_RUN:
            rows = rows.filter(~Exists(other))
        else:
            rows = rows.filter(Exists(other.filter(_tier_filter(other_tier, column))))
        rows = rows.select_related("customer", "branch", "rm").order_by(F("score").desc(nulls_last=True),
                                                                          "customer_id")
    return CappedPaginator(rows, per_page).get_page(page)


@dataclass(frozen=True)
class RmCompliance:
    rm_id: int | None
    name: str
    customers: int  # classified customers of the RM in the run
    contacted: int  # with an interaction within their tier's contact interval
    overdue: int
    share: Decimal | None  # percent contacted


@dataclass(frozen=True)
class Compliance:
    today: dt.date
    contact_days: list[tuple[str, int]]  # (tier label, days)
    rows: list[RmCompliance]  # worst share first
    total: RmCompliance


def _staff_name(first: str | None, last: str | None, username: str | None) -> str:
    return f"{last or ''}{first or ''}".strip() or username or ""


def compliance(actor, run: Run, today: dt.date) -> Compliance:
    """Contact-policy compliance per RM (the RM the run recorded): of each RM's classified customers, how many had
    an interaction (by anyone) on or after ``today`` minus their tier's contact interval (the run's policy) and not
    after ``today``: overdue = last interaction older than the interval, or none (rules.next_contact_due). One
    GROUP BY query with an EXISTS per row on the interaction index (customer, occurred_at)."""
    return _compliance(_rows(scope_of(actor), run), run, today)


def _compliance(scoped: QuerySet[Assignment], run: Run, today: dt.date) -> Compliance:
    days = dict(zip([t.value for t in ValueTier], run.policy.contact_days, strict=True))
    tz = timezone.get_current_timezone()
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    since = Case(*[When(value_tier=tier, then=Value(dt.datetime.combine(today - dt.timedelta(days=interval),
                                                                        dt.time.min, tzinfo=tz)))
                   for tier, interval in days.items()], output_field=DateTimeField())
    # One EXISTS per row with the row's own cut-off (four EXISTS, one per tier, measured twice as slow).
    contacted = Exists(Interaction.objects.filter(customer_id=OuterRef("customer_id"), occurred_at__gte=OuterRef("since"),
                                                  occurred_at__lt=end))
    rows = (scoped.exclude(value_tier="").order_by().annotate(since=since)
            .values("rm_id", "rm__first_name", "rm__last_name", "rm__username")
            .annotate(customers=Count("id"), contacted=Count("id", filter=contacted)))
    result = [RmCompliance(rm_id=r["rm_id"], customers=r["customers"], contacted=r["contacted"],
                           overdue=r["customers"] - r["contacted"], share=_percent(r["contacted"], r["customers"]),
                           name=_staff_name(r["rm__first_name"], r["rm__last_name"], r["rm__username"])
                           if r["rm_id"] else _("No RM"))
              for r in rows]
    result.sort(key=lambda r: (r.share if r.share is not None else Decimal(101), r.name))
    customers, reached = sum(r.customers for r in result), sum(r.contacted for r in result)
    total = RmCompliance(rm_id=None, name=_("Total"), customers=customers, contacted=reached,
                         overdue=customers - reached, share=_percent(reached, customers))
    labels = dict(tier_keys("value"))
    return Compliance(today=today, contact_days=[(labels[t], d) for t, d in days.items()], rows=result, total=total)


@dataclass(frozen=True)
class BranchFigures:
    code: str
    name: str
    customers: int
    tiers: list[int]  # customers per value tier, best first, then unclassified
    aum: Decimal
    contribution: Decimal
    contribution_share: Decimal | None


def branch_comparison(actor, run: Run) -> list[BranchFigures]:
    """Per branch one level below the actor's root (head office: each top-level branch with its outlets; a
    supervisor: their branch itself and each branch below it with its outlets): customers per value tier, AUM and
    contribution. The GROUP BY query of ``_groups``, and one for the branches' names."""
    scope = scope_of(actor)
    return _branches(_groups(scope, _rows(scope, run)))


def _branches(groups: _Groups) -> list[BranchFigures]:
    tiers = [key for key, _label in tier_keys("value")]
    units: dict[str, dict] = {}
    for g in groups.rows:
        unit = units.setdefault(g["unit"], {"n": 0, "aum": Decimal(0), "contribution": Decimal(0),
                                            "tiers": dict.fromkeys(tiers, 0)})
        unit["n"] += g["n"]
        unit["aum"] += g["aum"]
        unit["contribution"] += g["contribution"]
        unit["tiers"][g["value_tier"]] += g["n"]
    if not units:
        return []
    root = groups.root
    names = dict(Branch.objects.filter(code__in=[code for code in units if code]).values_list("code", "name"))
    whole = sum((u["contribution"] for u in units.values()), Decimal(0))
    result = [BranchFigures(code=code or (root["code"] if root else ""),
                            name=(names.get(code, code) if code else root["name"] if root else _("Head office itself")),
                            customers=u["n"], tiers=[u["tiers"][t] for t in tiers], aum=u["aum"],
                            contribution=u["contribution"], contribution_share=_percent(u["contribution"], whole))
              for code, u in units.items()]
    result.sort(key=lambda b: (-b.contribution, b.code))
    return result


@dataclass(frozen=True)
class Supervision:
    pyramid: Pyramid
    pareto: Pareto
    compliance: Compliance
    branches: list[BranchFigures]


def supervision(actor, run: Run, today: dt.date) -> Supervision:
    """Every figure of the supervision page for ``run`` in the actor's scope: the scope's branch ids read once, the
    pyramid and the branch comparison from one grouped query, the Pareto buckets, compliance per RM, branch names."""
    scope = scope_of(actor)
    scoped = _rows(scope, run)
    groups = _groups(scope, scoped)
    return Supervision(pyramid=_pyramid(groups), pareto=_pareto(scoped), compliance=_compliance(scoped, run, today),
                       branches=_branches(groups))
