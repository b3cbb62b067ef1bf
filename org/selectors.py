"""Reads about the organisation: the branches and staff a viewer's scope covers, the audit log, the working calendar."""

from dataclasses import dataclass
from datetime import datetime

from django.core.paginator import Page
from django.db.models import Q
from django.http import QueryDict
from django.utils import timezone
from django_filters import FilterSet

from core.pagination import CappedPaginator

from . import rules
from .access import scope_of
from .constants import Role
from .filters import ApiKeyUseFilter, PiiAccessFilter
from .models import ApiKeyUse, Branch, CalendarDay, CalendarYear, PiiAccessLog, User, WorkingHours


def branches_visible_to(user):
    """Branches a viewer may pick in filters and forms."""
    return scope_of(user).branches()


def staff_visible_to(user):
    """Relationship managers a viewer may pick in filters and forms."""
    qs = User.objects.filter(is_active=True, role=Role.RM).select_related("branch").order_by("username")
    return scope_of(user).filter(qs, branch="branch_id", rm="pk")


@dataclass(frozen=True)
class RevealRow:
    """A revealed value or an export, as the audit log shows it."""

    pk: int
    at: datetime
    who: str
    customer_cif: str
    action: str
    reason: str


@dataclass(frozen=True)
class KeyUseRow:
    """One request made with an API key, as the audit log shows it."""

    pk: int
    at: datetime
    key: str
    method: str
    path: str
    status: int
    counts: dict


@dataclass(frozen=True)
class AuditLog:
    """One page of the audit log: its tab ("reveals" or "keys"), the filter form, the rows, and the query
    string that keeps the tab and the filters across pages."""

    tab: str
    filter: FilterSet
    page: Page
    query: str


AUDIT_LOG_PAGE_SIZE = 50


def audit_log_list(params: QueryDict) -> AuditLog:
    """The audit log's page for the request's parameters (``tab``, the filters, ``page``), newest first."""
    tab = "keys" if params.get("tab") == "keys" else "reveals"
    if tab == "keys":
        filterset = ApiKeyUseFilter(params, queryset=ApiKeyUse.objects.select_related("key"))
    else:
        filterset = PiiAccessFilter(params, queryset=PiiAccessLog.objects.select_related("user", "api_key"))
    qs = filterset.qs.order_by("-at", "-id") if filterset.is_valid() else filterset.queryset.none()
    page = CappedPaginator(qs, AUDIT_LOG_PAGE_SIZE).get_page(params.get("page"))
    if tab == "keys":
        page.object_list = [KeyUseRow(pk=u.pk, at=u.at, key=u.key.name, method=u.method, path=u.path,
                                      status=u.status, counts=u.counts) for u in page.object_list]
    else:
        page.object_list = [RevealRow(pk=r.pk, at=r.at, who=str(r.user or r.api_key or ""),
                                      customer_cif=r.customer_cif, action=r.get_field_display(), reason=r.reason)
                            for r in page.object_list]
    query = params.copy()
    query.pop("page", None)
    query["tab"] = tab
    return AuditLog(tab=tab, filter=filterset, page=page, query=query.urlencode())


# ---- working calendar ------------------------------------------------------------------------------------------

def _ancestors(branch: Branch | None) -> list[int]:
    """The ids of ``branch`` and the branches above it, root first (from its materialised path)."""
    if branch is None:
        return []
    codes = [c for c in branch.path.split("/") if c]
    ids = dict(Branch.objects.filter(code__in=codes).values_list("code", "pk"))
    return [ids[c] for c in codes if c in ids]


def working_calendar(branch: Branch | None) -> rules.WorkingCalendar:
    """The working calendar of ``branch`` (None: the bank's): the working hours of the nearest branch on its path
    that sets them (none: Monday–Friday 09:00–12:00 and 13:30–17:30), the bank-wide days off and make-up days with
    each branch's own entries on the path winning over those above it, and the years held; in the default time
    zone (Asia/Shanghai). Four queries."""
    path = _ancestors(branch)
    depth = {pk: k for k, pk in enumerate(path)}
    week = rules.DEFAULT_WEEK
    hours = sorted(WorkingHours.objects.filter(branch_id__in=path).values_list("branch_id", "week"),
                   key=lambda row: depth[row[0]])
    if hours:
        week, _problems = rules.parse_week(hours[-1][1])
    entries, level = {}, {}
    rows = CalendarDay.objects.filter(Q(branch__isnull=True) | Q(branch_id__in=path)).values_list(
        "branch_id", "day", "kind")
    for branch_id, day, kind in rows:
        rank = -1 if branch_id is None else depth[branch_id]
        if rank >= level.get(day, -2):
            entries[day], level[day] = kind, rank
    covered = frozenset(CalendarYear.objects.values_list("year", flat=True))
    return rules.WorkingCalendar(week=week, entries=entries, covered=covered, tz=timezone.get_default_timezone())
