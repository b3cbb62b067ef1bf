"""Reads about the organisation: the branches and staff a viewer's scope covers, the audit log."""

from dataclasses import dataclass
from datetime import datetime

from django.core.paginator import Page
from django.http import QueryDict
from django_filters import FilterSet

from core.pagination import CappedPaginator

from .access import scope_of
from .constants import Role
from .filters import ApiKeyUseFilter, PiiAccessFilter
from .models import ApiKeyUse, PiiAccessLog, User


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
