"""Scoped reads of complaints. Every read goes through ``org.access.complaint_scope_of``: head office sees every
complaint, a supervisor or a complaint officer the complaints of their branch subtree, an RM the complaints of the
customers in their book, an API key those of its branches; anything else is a 404. A complaint officer sees the
complainant's data only on the complaints they handle (``org.access.sees_complainant``)."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from customers.models import Customer
from org import selectors as org_selectors
from org.access import complaint_scope_of
from org.models import Branch
from org.rules import BusinessClock, WorkingCalendar

from .models import Category, Complaint, SlaPolicy


def complaints_visible_to(actor) -> QuerySet[Complaint]:
    return complaint_scope_of(actor).filter(Complaint.objects.all(), branch="branch_id", rm="customer__rm_id")


def complaint_get(actor, pk) -> Complaint:
    """A complaint in the actor's scope (``Complaint.DoesNotExist`` otherwise, shown as a 404)."""
    try:
        return complaints_visible_to(actor).select_related("policy", "branch", "category").get(pk=int(pk))
    except (ValueError, TypeError, OverflowError):
        raise Complaint.DoesNotExist from None


def active_categories() -> QuerySet[Category]:
    return Category.objects.filter(active=True).select_related("parent")


def active_policies() -> list[SlaPolicy]:
    return list(SlaPolicy.objects.filter(active=True))


# The span of days a complaint's business clock covers: from the day before receipt to well past any deadline.
SPAN_BEFORE, SPAN_AFTER = dt.timedelta(days=1), dt.timedelta(days=800)


def business_clock(branch: Branch, received_at: dt.datetime) -> tuple[WorkingCalendar, BusinessClock]:
    """The branch's working calendar and a business clock over the days a complaint received at ``received_at``
    can need (four queries for the calendar)."""
    calendar = org_selectors.working_calendar(branch)
    day = timezone.localtime(received_at).date()
    return calendar, BusinessClock(calendar, day - SPAN_BEFORE, day + SPAN_AFTER)


def complainable_customers(actor) -> QuerySet[Customer]:
    """The customers ``actor`` may record a complaint for: those of the complaints it sees (an RM their book, a
    supervisor or complaint officer their branch subtree, head office all)."""
    return complaint_scope_of(actor).filter(Customer.objects.all(), branch="branch_id", rm="rm_id")
