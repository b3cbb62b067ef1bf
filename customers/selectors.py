"""Scoped reads. Every page and endpoint that shows customer data starts from these.

Who sees which customers (DOMAIN.md §1):
- relationship manager → the customers assigned to them;
- branch supervisor → every customer of their branch subtree;
- head-office admin → every customer;
- complaint officer → none through the customer pages (complaint handling grants
  purpose-bound access through the complaints app);
- API key → every customer, or its branch subtree when the key is limited to one;
- anyone else → none.
"""

from django.db.models import Q, QuerySet

from org.api.authentication import ApiClient
from org.constants import Role
from org.selectors import branch_subtree_ids

from . import rules
from .constants import TaskStatus
from .models import Customer, FinancialSnapshot, FollowUpTask, Holding, Interaction


def customers_visible_to(user) -> QuerySet[Customer]:
    qs = Customer.objects.all()
    if user is None or not user.is_authenticated or not user.is_active:
        return qs.none()
    if isinstance(user, ApiClient):
        return qs.filter(branch_id__in=branch_subtree_ids(user.branch)) if user.branch else qs
    if user.is_superuser or user.role == Role.HEAD_OFFICE:
        return qs
    if user.role == Role.SUPERVISOR and user.branch_id:
        return qs.filter(branch_id__in=branch_subtree_ids(user.branch))
    if user.role == Role.RM:
        return qs.filter(rm_id=user.pk)
    return qs.none()


def customer_search(qs: QuerySet[Customer], query: str) -> QuerySet[Customer]:
    """One box: exact CIF, mobile or ID number, or a name fragment (any 2+ characters, or a 1-character prefix)."""
    terms = rules.search_terms(query)
    if not terms.text:
        return qs
    cond = Q(cif=terms.cif)
    if terms.mobile:
        cond |= Q(mobile=terms.mobile)
    if terms.id_number:
        cond |= Q(id_number=terms.id_number)
    if terms.name_bigrams:
        cond |= Q(name_bigrams__contains=terms.name_bigrams, name__icontains=terms.text)
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


def customer_360(customer: Customer) -> dict:
    """Everything the 360° page shows, in a fixed number of queries."""
    return {
        "trend": customer_aum_trend(customer),
        "holdings": list(Holding.objects.filter(customer=customer).order_by("product_type", "id")),
        "interactions": list(Interaction.objects.filter(customer=customer).select_related("staff")[:20]),
        "open_tasks": list(FollowUpTask.objects.filter(customer=customer, status=TaskStatus.OPEN)
                           .select_related("assignee").order_by("due_date")),
        "history": list(customer.changes.select_related("actor", "api_key")[:20]),
    }


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
    return tasks_visible_to(user).filter(assignee_id=user.pk, status=status).order_by("due_date", "id")


