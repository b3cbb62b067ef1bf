"""Reads about the organisation: the branches and staff a viewer's scope covers, the audit log, the working calendar."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.paginator import Page
from django.db.models import Q
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters import FilterSet

from core.pagination import CappedPaginator

from . import rules
from .access import scope_of
from .constants import CalendarKind, Role
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

def _path(branch: Branch | None) -> list[dict]:
    """``branch`` and the branches above it, root first (from its materialised path): id, code and name."""
    if branch is None:
        return []
    codes = [c for c in branch.path.split("/") if c]
    return list(Branch.objects.filter(code__in=codes).order_by("path").values("pk", "code", "name"))


@dataclass(frozen=True)
class _Calendar:
    calendar: rules.WorkingCalendar
    hours_from: int | None  # the branch whose working hours apply (None: the default week)
    days: dict  # day → (kind, name, branch id or None) of the entry that applies


def _calendar(path: list[dict]) -> _Calendar:
    """The calendar along ``path`` (see ``working_calendar``): three queries."""
    depth = {b["pk"]: k for k, b in enumerate(path)}
    week, hours_from = rules.DEFAULT_WEEK, None
    hours = sorted(WorkingHours.objects.filter(branch_id__in=depth).values_list("branch_id", "week"),
                   key=lambda row: depth[row[0]])
    if hours:
        hours_from = hours[-1][0]
        week, _problems = rules.parse_week(hours[-1][1])
    days, level = {}, {}
    rows = CalendarDay.objects.filter(Q(branch__isnull=True) | Q(branch_id__in=depth)).values_list(
        "branch_id", "day", "kind", "name")
    for branch_id, day, kind, name in rows:
        rank = -1 if branch_id is None else depth[branch_id]
        if rank >= level.get(day, -2):
            days[day], level[day] = (kind, name, branch_id), rank
    covered = frozenset(CalendarYear.objects.values_list("year", flat=True))
    calendar = rules.WorkingCalendar(week=week, entries={d: v[0] for d, v in days.items()}, covered=covered,
                                     tz=timezone.get_default_timezone())
    return _Calendar(calendar=calendar, hours_from=hours_from, days=days)


def working_calendar(branch: Branch | None) -> rules.WorkingCalendar:
    """The working calendar of ``branch`` (None: the bank's): the working hours of the nearest branch on its path
    that sets them (none: Monday–Friday 09:00–12:00 and 13:30–17:30), the bank-wide days off and make-up days with
    each branch's own entries on the path winning over those above it, and the years held; in the default time
    zone (Asia/Shanghai). Four queries."""
    return _calendar(_path(branch)).calendar


STATUTORY_LABELS = {
    rules.NEW_YEAR: _("New Year's Day"), rules.SPRING_FESTIVAL: _("Spring Festival"), rules.QINGMING: _("Qingming"),
    rules.LABOUR_DAY: _("Labour Day"), rules.DRAGON_BOAT: _("Dragon Boat Festival"),
    rules.MID_AUTUMN: _("Mid-Autumn Festival"), rules.NATIONAL_DAY: _("National Day"),
}
# The chinesecalendar package names its days in English; shown in the reader's language (other names as entered).
PACKAGE_NAMES = {
    "New Year's Day": STATUTORY_LABELS[rules.NEW_YEAR], "Spring Festival": STATUTORY_LABELS[rules.SPRING_FESTIVAL],
    "Tomb-sweeping Day": STATUTORY_LABELS[rules.QINGMING], "Labour Day": STATUTORY_LABELS[rules.LABOUR_DAY],
    "Dragon Boat Festival": STATUTORY_LABELS[rules.DRAGON_BOAT],
    "Mid-autumn Festival": STATUTORY_LABELS[rules.MID_AUTUMN], "National Day": STATUTORY_LABELS[rules.NATIONAL_DAY],
    "Anti-Fascist 70th Day": _("70th anniversary of the victory over fascism"),
}
WEEKDAYS = (_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday"))


@dataclass(frozen=True)
class CalendarEntry:
    day: date
    weekday: str
    kind: str
    kind_label: str
    name: str
    branch: str | None  # the branch whose own entry it is; None: the bank's
    own: bool  # an entry of the branch shown (removable there)


@dataclass(frozen=True)
class CalendarView:
    year: int
    branch: Branch | None
    held: tuple[int, int] | None  # the first and last year the bank-wide table holds
    provisional: bool
    warning_year: int | None  # head office should enter this year's schedule
    hours: list[tuple[str, str]]  # (weekday, "09:00–12:00, 13:30–17:30" or "")
    hours_from: str | None  # the name of the branch the hours come from (None: the default)
    hours_own: bool  # the branch shown sets its own hours (it can inherit them again)
    week: list  # the hours as stored (rules.format_week), for the editor
    entries: list[CalendarEntry]
    statutory: list[tuple[date, str]]  # a provisional year: the days off the law fixes
    working_days: int


def hours_text(day) -> str:
    return ", ".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in day)


def calendar_view(*, year: int, branch: Branch | None, today: date) -> CalendarView:
    """The calendar page: ``branch``'s working hours (and which branch they come from), the days off and make-up
    days of ``year`` along its path, whether the year is provisional (then the statutory days computed), how many
    working days it has, and the year head office should enter next when it is due. Four queries."""
    path = _path(branch)
    built = _calendar(path)
    calendar, names = built.calendar, {b["pk"]: b["name"] for b in path}
    labels = dict(CalendarKind.choices)
    entries = [CalendarEntry(day=day, weekday=str(WEEKDAYS[day.weekday()]), kind=kind, kind_label=str(labels[kind]),
                             name=str(PACKAGE_NAMES.get(name, name)), branch=names.get(branch_id), own=branch_id == (branch.pk if branch else None))
               for day, (kind, name, branch_id) in sorted(built.days.items()) if day.year == year]
    covered = calendar.covered
    first = date(year, 1, 1)
    provisional = calendar.provisional(first)
    statutory = sorted((d, str(STATUTORY_LABELS[code])) for d, code in rules.statutory_holidays(year).items()) \
        if provisional else []
    days = [first + timedelta(days=k) for k in range((date(year + 1, 1, 1) - first).days)]
    return CalendarView(
        year=year, branch=branch, held=(min(covered), max(covered)) if covered else None, provisional=provisional,
        warning_year=rules.coverage_warning(covered, today),
        hours=[(str(WEEKDAYS[k]), hours_text(day)) for k, day in enumerate(calendar.week)],
        hours_from=names.get(built.hours_from), hours_own=branch is not None and built.hours_from == branch.pk,
        week=rules.format_week(calendar.week),
        entries=entries, statutory=statutory, working_days=sum(calendar.is_working_day(d) for d in days))
