"""Scoped reads of the RM home (issue 13 item 8): an RM's start page (today's and overdue tasks, the birthdays of the
next days, open campaign contacts, the downgrade watch and overdue contacts of their book) and, for a supervisor or
head office, the RMs of a branch subtree with their counts and the team's totals.

Every read goes through ``org.access.scope_of`` (one scope per page, so a supervisor's branch ids are read once): a
supervisor sees an RM's home only for an RM of their subtree, and only the part of the RM's book in their subtree.
The numbers are aggregate queries (GROUP BY the RM for the team), never a query per row: a page costs a fixed
number of queries whatever the size of the book or the team.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import CharField, Count, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Concat

from campaigns.constants import CampaignStatus
from campaigns.models import CareKey, Member
from customers.constants import TaskStatus
from customers.models import Customer, FollowUpTask
from org.access import AccessScope, branch_subtree, is_rm, scope_of
from org.models import Branch, User
from org.selectors import staff_visible_to
from segmentation import selectors as segmentation

from . import rules

HOME_ROWS = 10  # rows shown per section of the home (each has its count, and a link to the full list)
BIRTHDAY_DAYS = 7  # today and the six days after it
TEAM_PAGE = 50  # RMs per page of the team table


@dataclass(frozen=True)
class Section:
    """One card of the home: its first rows and how many there are (``capped``: at least ``count``)."""

    rows: list
    count: int
    capped: bool = False


@dataclass(frozen=True)
class TaskRow:
    pk: int
    title: str
    due_date: dt.date
    customer_id: int
    customer: str
    days_overdue: int  # 0: due today


@dataclass(frozen=True)
class BirthdayRow:
    customer_id: int
    cif: str
    name: str
    day: dt.date  # the day it is celebrated, in the window
    lunar: bool
    age: int  # the age the customer turns


@dataclass(frozen=True)
class CampaignContactRow:
    campaign_id: int
    campaign: str
    customer_id: int
    cif: str
    name: str
    outcome: str  # label, "" while none is recorded
    task_due: dt.date | None  # the RM task the campaign gave, while it is open


@dataclass(frozen=True)
class RmHome:
    rm: User
    today: dt.date
    tasks_today: Section
    tasks_overdue: Section
    birthdays: Section
    campaign_contacts: Section
    watch: Section
    overdue_contacts: Section


def home_rm(actor, rm_id: int | None) -> User | None:
    """The RM whose home ``actor`` asks for with ``?rm=``: an RM gets their own (another's id: ``User.DoesNotExist``,
    a 404); a supervisor or head office an active RM of their scope (None without ``rm_id``: the team)."""
    if is_rm(actor):
        if rm_id is not None and rm_id != actor.pk:
            raise User.DoesNotExist
        return actor
    if rm_id is None:
        return None
    return staff_visible_to(actor).get(pk=rm_id)


def _customers(scope: AccessScope) -> QuerySet[Customer]:
    return scope.filter(Customer.objects.all(), branch="branch_id", rm="rm_id")


def _open_tasks(scope: AccessScope, *, today: dt.date) -> QuerySet[FollowUpTask]:
    """Open tasks due today or before, of customers in the scope (the customers' task list's own rule)."""
    return FollowUpTask.objects.filter(customer__in=_customers(scope), status=TaskStatus.OPEN, due_date__lte=today)


def _task_rows(qs: QuerySet[FollowUpTask], today: dt.date) -> list[TaskRow]:
    return [TaskRow(pk=t["pk"], title=t["title"], due_date=t["due_date"], customer_id=t["customer_id"],
                    customer=t["customer__name"], days_overdue=(today - t["due_date"]).days)
            for t in qs.values("pk", "title", "due_date", "customer_id", "customer__name")[:HOME_ROWS]]


def birthday_window(today: dt.date) -> rules.BirthdayWindow:
    return rules.birthday_window(today, BIRTHDAY_DAYS, feb29_on_feb28=settings.CARE_FEB29_ON_FEB28,
                                 leap_to_regular=settings.CARE_LUNAR_LEAP_TO_REGULAR,
                                 day30_to_29=settings.CARE_LUNAR_DAY30_TO_29)


def _birthdays(customers: QuerySet[Customer], window: rules.BirthdayWindow) -> QuerySet[Customer]:
    """The customers of ``customers`` celebrated in ``window``: solar birthdays by (month, day); lunar ones by the
    birth dates (read once, distinct) whose lunar date the window holds. Two queries when evaluated."""
    solar = Q()
    for month, day in window.solar:
        solar |= Q(birth_date__month=month, birth_date__day=day)
    births = (customers.filter(lunar_birthday=True, birth_date__isnull=False).order_by()
              .values_list("birth_date", flat=True).distinct())
    lunar = [b for b in births if window.celebrated_on(b, lunar=True) is not None]
    return customers.filter((Q(lunar_birthday=False) & solar) | Q(lunar_birthday=True, birth_date__in=lunar))


def _campaign_contacts(customers: QuerySet[Customer]) -> QuerySet[Member]:
    """Members of running campaigns among ``customers`` who were contacted (not held out or left out) and have no
    outcome yet, or whose RM task from the campaign is still open (its care key ``campaign:<id>:<customer>``)."""
    key = Concat(Value("campaign:"), OuterRef("campaign_id"), Value(":"), OuterRef("customer_id"),
                 output_field=CharField())
    open_task = CareKey.objects.filter(key=key, task__status=TaskStatus.OPEN).values("task__due_date")[:1]
    return (Member.objects.filter(campaign__status=CampaignStatus.RUNNING, excluded="", customer__in=customers)
            .annotate(task_due=Subquery(open_task)).filter(Q(outcome="") | Q(task_due__isnull=False)))


def _page_section(page: Page) -> Section:
    return Section(rows=list(page.object_list), count=min(page.paginator.count, page.paginator.cap),
                   capped=page.paginator.count_capped)


def rm_home(actor, rm: User, *, today: dt.date) -> RmHome:
    """The home of ``rm`` (from ``home_rm``) as ``actor`` sees it: the sections' first rows and counts, over the
    part of the RM's book in the actor's scope. A fixed number of queries (about fifteen)."""
    scope = scope_of(actor)
    book = _customers(scope).filter(rm_id=rm.pk)

    tasks = _open_tasks(scope, today=today).filter(assignee_id=rm.pk)
    counts = tasks.aggregate(today=Count("id", filter=Q(due_date=today)), overdue=Count("id", filter=Q(due_date__lt=today)))
    tasks_today = _task_rows(tasks.filter(due_date=today).order_by("id"), today)
    tasks_overdue = _task_rows(tasks.filter(due_date__lt=today).order_by("due_date", "id"), today)

    window = birthday_window(today)
    born = _birthdays(book, window).values("pk", "cif", "name", "birth_date", "lunar_birthday")
    birthdays = []
    for c in born:
        day = window.celebrated_on(c["birth_date"], lunar=c["lunar_birthday"])
        if day is not None:
            birthdays.append(BirthdayRow(customer_id=c["pk"], cif=c["cif"], name=c["name"], day=day,
                                         lunar=c["lunar_birthday"],
                                         age=rules.age_turning(c["birth_date"], day, lunar=c["lunar_birthday"])))
    birthdays.sort(key=lambda r: (r.day, r.name, r.customer_id))

    contacts = _campaign_contacts(book)
    outcomes = dict(Member._meta.get_field("outcome").choices)
    contact_rows = [
        CampaignContactRow(campaign_id=m["campaign_id"], campaign=m["campaign__name"], customer_id=m["customer_id"],
                           cif=m["customer__cif"], name=m["customer__name"],
                           outcome=str(outcomes.get(m["outcome"], "")), task_due=m["task_due"])
        for m in contacts.order_by("-campaign__launched_at", "campaign_id", "customer_id")
        .values("campaign_id", "campaign__name", "customer_id", "customer__cif", "customer__name", "outcome",
                "task_due")[:HOME_ROWS]]

    return RmHome(
        rm=rm, today=today,
        tasks_today=Section(rows=tasks_today, count=counts["today"]),
        tasks_overdue=Section(rows=tasks_overdue, count=counts["overdue"]),
        birthdays=Section(rows=birthdays[:HOME_ROWS], count=len(birthdays)),
        campaign_contacts=Section(rows=contact_rows, count=contacts.count()),
        watch=_page_section(segmentation.downgrade_watch(actor, rm_id=rm.pk, page=1, per_page=HOME_ROWS)),
        overdue_contacts=_page_section(segmentation.overdue_contacts(actor, today=today, rm_id=rm.pk, page=1,
                                                                     per_page=HOME_ROWS)),
    )


# ---- the team: the RMs of a branch subtree with their counts --------------------------------------------------------

@dataclass(frozen=True)
class TeamCounts:
    overdue_tasks: int = 0
    tasks_today: int = 0
    overdue_contacts: int = 0
    birthdays: int = 0
    campaign_contacts: int = 0


@dataclass(frozen=True)
class TeamRow:
    rm_id: int
    name: str
    branch: str
    counts: TeamCounts


@dataclass(frozen=True)
class Team:
    """The team table of a supervisor or head office: the branch chosen (None: head office has not chosen one
    yet), one page of its RMs with their counts, and the totals over every RM of the branch."""

    branch: Branch | None
    page: Page | None
    total: TeamCounts


def team_branches(actor) -> QuerySet[Branch]:
    """The branches whose RMs ``actor`` may list: a supervisor their subtree; head office every branch below the
    root (the whole bank's RMs at once would be no table to read, nor a query to run on every visit)."""
    scope = scope_of(actor)
    branches = scope.branches()
    if scope.everything:
        branches = branches.exclude(parent__isnull=True)
    return branches.order_by("path")


def team_branch(actor, branch_id: int | None) -> Branch | None:
    """The branch of the team table: ``branch_id`` among ``team_branches`` (else ``Branch.DoesNotExist``: a 404);
    without one, a supervisor's own branch, and none for head office (it chooses)."""
    if branch_id is not None:
        return team_branches(actor).get(pk=branch_id)
    if scope_of(actor).everything:
        return None
    return Branch.objects.filter(pk=scope_of(actor).root_id).first()


def team(actor, *, branch: Branch | None, today: dt.date, page=None) -> Team:
    """The active RMs of ``branch``'s subtree (in the actor's scope), each with their counts over their book in the
    actor's scope: open tasks overdue and due today, overdue contacts, birthdays in the next days, open campaign
    contacts; and the totals. One GROUP BY query per figure over all the branch's RMs (the page is cut in Python),
    so the queries are as many for five RMs as for five hundred."""
    if branch is None:
        return Team(branch=None, page=None, total=TeamCounts())
    scope = scope_of(actor)
    rms = list(staff_visible_to(actor).filter(branch__in=branch_subtree(branch.pk))
               .order_by("branch__path", "last_name", "first_name", "username"))
    ids = [u.pk for u in rms]
    figures: dict[str, dict[int, int]] = {f.name: {} for f in fields(TeamCounts)}
    if ids:
        tasks = (_open_tasks(scope, today=today).filter(assignee_id__in=ids).order_by().values("assignee_id")
                 .annotate(overdue=Count("id", filter=Q(due_date__lt=today)),
                           today=Count("id", filter=Q(due_date=today))))
        for t in tasks:
            figures["overdue_tasks"][t["assignee_id"]] = t["overdue"]
            figures["tasks_today"][t["assignee_id"]] = t["today"]
        for r in segmentation.overdue_per_rm(actor, today=today, rm_ids=ids):
            figures["overdue_contacts"][r.rm_id] = r.count
        books = _customers(scope).filter(rm_id__in=ids)
        born = _birthdays(books, birthday_window(today)).order_by().values("rm_id").annotate(n=Count("id"))
        figures["birthdays"] = {b["rm_id"]: b["n"] for b in born}
        contacts = (_campaign_contacts(books).order_by().values("customer__rm_id").annotate(n=Count("id")))
        figures["campaign_contacts"] = {c["customer__rm_id"]: c["n"] for c in contacts}
    rows = [TeamRow(rm_id=u.pk, name=str(u), branch=str(u.branch),
                    counts=TeamCounts(**{name: per_rm.get(u.pk, 0) for name, per_rm in figures.items()}))
            for u in rms]
    total = TeamCounts(**{name: sum(per_rm.get(pk, 0) for pk in ids) for name, per_rm in figures.items()})
    return Team(branch=branch, page=Paginator(rows, TEAM_PAGE).get_page(page), total=total)
