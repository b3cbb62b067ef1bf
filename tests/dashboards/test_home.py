"""Issue 13 item 8, the RM home: what each section shows on a pinned day (tasks today and overdue, birthdays in the
next 7 days with Feb 29 and a lunar birthday, campaign contacts, the downgrade watch and overdue contacts), the same
home as a supervisor sees it, the team table with its per-RM counts and totals, "today" in Shanghai, the login
landing on it, and a fixed number of queries whatever the number of rows or RMs."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from campaigns.models import Member
from dashboards import selectors
from segmentation.constants import CardTier, ValueTier
from tests.customers.builders import CustomerFactory, FollowUpTaskFactory
from tests.org.builders import PASSWORD, RMFactory
from tests.segmentation.builders import assign

from .builders import SH, TODAY, campaign, campaign_task

pytestmark = pytest.mark.django_db
HOME = "/"


def client(user):
    c = Client(HTTP_ACCEPT_LANGUAGE="en")
    c.force_login(user)
    return c


# --- the RM's own home ---

def test_tasks_due_today_and_overdue_are_the_rms_open_ones(w):
    home = selectors.rm_home(w.rm, w.rm, today=TODAY)
    t = w.home_tasks
    assert (home.tasks_today.count, [r.pk for r in home.tasks_today.rows]) == (1, [t["due_today"].pk])
    # the campaign's RM task (due two days ago) is an overdue task too; most overdue first
    assert home.tasks_overdue.count == 2
    assert [r.pk for r in home.tasks_overdue.rows] == [t["overdue"].pk, w.campaign_task.pk]
    assert home.tasks_overdue.rows[0].days_overdue == 3 and home.tasks_overdue.rows[0].customer == "刘芳华"


def test_birthdays_in_the_next_seven_days_with_feb_29_and_a_lunar_birthday(w):
    home = selectors.rm_home(w.rm, w.rm, today=TODAY)
    c = w.customers
    rows = [(r.customer_id, r.day, r.lunar, r.age) for r in home.birthdays.rows]
    assert rows == [
        (c["today"].pk, dt.date(2027, 2, 25), False, 47),
        (c["lunar"].pk, dt.date(2027, 2, 27), True, 52),  # lunar 1/22, its solar 03-04 is past the window
        (c["feb29"].pk, dt.date(2027, 2, 28), False, 35),  # Feb 29 on Feb 28 in a common year
    ]
    assert home.birthdays.count == 3  # not: lunar_solar_only (solar 03-01, lunar 02-15), yesterday, after, other RM's


def test_birthdays_follow_the_feb_29_setting(w, settings):
    settings.CARE_FEB29_ON_FEB28 = False
    home = selectors.rm_home(w.rm, w.rm, today=TODAY)
    assert w.customers["feb29"].pk not in {r.customer_id for r in home.birthdays.rows}
    assert home.birthdays.count == 2


def test_campaign_contacts_wait_for_an_outcome_or_have_an_open_campaign_task(w):
    with translation.override("en"):
        home = selectors.rm_home(w.rm, w.rm, today=TODAY)
    c = w.customers
    rows = {r.customer_id: r for r in home.campaign_contacts.rows}
    assert set(rows) == {c["c_rm"].pk, c["c_rm_outlet"].pk}  # not: the control group, the completed campaign
    assert home.campaign_contacts.count == 2
    assert rows[c["c_rm"].pk].campaign == "春季理财" and rows[c["c_rm"].pk].task_due is None
    assert rows[c["c_rm_outlet"].pk].outcome == "Reached"
    assert rows[c["c_rm_outlet"].pk].task_due == TODAY - dt.timedelta(days=2)
    # once its task is done, a contact with an outcome is no longer waiting
    w.campaign_task.status = "done"
    w.campaign_task.save()
    assert selectors.rm_home(w.rm, w.rm, today=TODAY).campaign_contacts.count == 1


def test_the_downgrade_watch_and_overdue_contacts_of_the_book(w):
    home = selectors.rm_home(w.rm, w.rm, today=TODAY)
    assert home.watch.count == 1 and [r.customer_id for r in home.watch.rows] == [w.c_rm.pk]
    assert home.overdue_contacts.count == 1 and [r.customer_id for r in home.overdue_contacts.rows] == [w.c_rm.pk]
    assert home.overdue_contacts.rows[0].days_overdue == 10


def test_the_page_shows_the_sections_with_links(w):
    html = client(w.rm).get(HOME).content.decode()
    assert 'data-testid="home-title">My workbench' in html
    assert 'data-testid="count-tasks-today">1<' in html and 'data-testid="count-tasks-overdue">2<' in html
    assert 'data-testid="count-birthdays">3<' in html and 'data-testid="count-campaigns">2<' in html
    assert 'data-testid="count-watch">1<' in html and 'data-testid="count-overdue">1<' in html
    assert html.count('data-testid="lunar"') == 1 and "turns 52" in html
    assert "回访张伟明" in html and "补签风险评估" in html and "春季理财" in html
    assert f'href="{reverse("customers:detail", args=[w.c_rm.pk])}"' in html
    assert f'href="{reverse("customers:tasks")}"' in html
    assert f'href="{reverse("segmentation:downgrade-watch")}"' in html
    assert f'href="{reverse("segmentation:overdue")}"' in html
    assert 'data-testid="back-to-team"' not in html and 'data-testid="team-table"' not in html
    assert 'data-testid="nav-home"' in html


def test_an_rm_with_nothing_to_do_sees_empty_sections(w):
    rm = RMFactory(branch=w.b1)
    html = client(rm).get(HOME).content.decode()
    assert "Nothing due today." in html and "No birthdays in the next 7 days." in html
    assert "No campaign contacts waiting." in html and "No overdue contacts." in html


def test_today_is_the_shanghai_date(w):
    # 00:30 in Shanghai on 02-25 is still 02-24 in UTC: the task due 02-25 is today's, not tomorrow's
    with time_machine.travel(dt.datetime(2027, 2, 25, 0, 30, tzinfo=SH), tick=False):
        assert client(w.rm).get(HOME).context["home"].tasks_today.count == 1
    with time_machine.travel(dt.datetime(2027, 2, 24, 23, 30, tzinfo=SH), tick=False):
        assert client(w.rm).get(HOME).context["home"].tasks_today.count == 0


def test_a_campaign_contact_links_to_the_members_waiting_for_an_outcome(w):
    html = client(w.rm).get(HOME).content.decode()
    url = reverse("campaigns:members", args=[w.campaign.pk])
    assert f'href="{url}?group=contacted&amp;outcome=none"' in html


# --- a supervisor's view of an RM, and the team ---

def test_a_supervisor_sees_the_rms_home_with_links_to_the_rms_lists(w):
    r = client(w.sup_b1).get(HOME, {"rm": w.rm.pk})
    home, html = r.context["home"], r.content.decode()
    assert home.rm == w.rm and home.tasks_today.count == 1 and home.birthdays.count == 3
    assert f"Workbench of {w.rm}" in html and 'data-testid="back-to-team"' in html
    assert f'href="{reverse("segmentation:overdue")}?rm={w.rm.pk}"' in html
    assert f'href="{reverse("customers:tasks")}"' not in html.split('data-testid="section-tasks"')[1].split("</div>")[0]


def test_the_team_table_counts_per_rm_and_in_total(w):
    team = client(w.sup_b1).get(HOME).context["team"]
    assert team.branch == w.b1
    rows = {r.rm_id: r.counts for r in team.page.object_list}
    assert set(rows) == {w.rm.pk, w.other_rm.pk}
    assert rows[w.rm.pk] == selectors.TeamCounts(overdue_tasks=2, tasks_today=1, overdue_contacts=1, birthdays=3,
                                                 campaign_contacts=2)
    assert rows[w.other_rm.pk] == selectors.TeamCounts(overdue_tasks=0, tasks_today=1, overdue_contacts=1,
                                                       birthdays=1, campaign_contacts=1)
    assert team.total == selectors.TeamCounts(overdue_tasks=2, tasks_today=2, overdue_contacts=2, birthdays=4,
                                              campaign_contacts=3)
    html = client(w.sup_b1).get(HOME).content.decode()
    assert f'href="?rm={w.rm.pk}"' in html and 'data-testid="team-total"' in html
    assert str(w.rm_b2) not in html


def test_the_team_counts_match_each_rms_home(w):
    team = selectors.team(w.sup_b1, branch=w.b1, today=TODAY)
    for row in team.page.object_list:
        rm = next(u for u in (w.rm, w.other_rm) if u.pk == row.rm_id)
        home = selectors.rm_home(w.sup_b1, rm, today=TODAY)
        assert row.counts == selectors.TeamCounts(
            overdue_tasks=home.tasks_overdue.count, tasks_today=home.tasks_today.count,
            overdue_contacts=home.overdue_contacts.count, birthdays=home.birthdays.count,
            campaign_contacts=home.campaign_contacts.count)


def test_a_supervisor_narrows_the_team_to_an_outlet(w):
    outlet_rm = RMFactory(branch=w.b1a)
    team = client(w.sup_b1).get(HOME, {"branch": w.b1a.pk}).context["team"]
    assert [r.rm_id for r in team.page.object_list] == [outlet_rm.pk]


def test_head_office_chooses_a_branch_and_never_lists_the_whole_bank(w):
    c = client(w.ho_user)
    r = c.get(HOME)
    assert r.context["team"].branch is None and 'data-testid="choose-branch"' in r.content.decode()
    assert w.ho not in list(r.context["branches"])
    team = c.get(HOME, {"branch": w.b2.pk}).context["team"]
    assert [row.rm_id for row in team.page.object_list] == [w.rm_b2.pk]
    assert c.get(HOME, {"branch": w.ho.pk}).status_code == 404


def test_the_team_table_pages_through_many_rms(w):
    RMFactory.create_batch(selectors.TEAM_PAGE + 5, branch=w.b1)
    c = client(w.sup_b1)
    first = c.get(HOME).context["team"]
    assert first.page.paginator.count == selectors.TEAM_PAGE + 7 and len(first.page.object_list) == selectors.TEAM_PAGE
    second = c.get(HOME, {"page": 2}).context["team"]
    assert len(second.page.object_list) == 7
    assert second.total == first.total and first.total.tasks_today == 2


# --- the start page ---

def test_signing_in_lands_on_the_home(w):
    w.rm.set_password(PASSWORD)
    w.rm.save()
    r = Client().post(reverse("login"), {"username": w.rm.username, "password": PASSWORD}, REMOTE_ADDR="10.0.0.9")
    assert r.status_code == 302 and r.url == reverse("dashboards:home") == HOME


def test_staff_without_a_home_go_to_the_customer_list(w):
    r = client(w.co_b1).get(HOME)
    assert r.status_code == 302 and r.url == reverse("customers:list")
    assert 'data-testid="nav-home"' not in client(w.co_b1).get(reverse("customers:list")).content.decode()


# --- a fixed number of queries ---

def _more_of_everything(w, rm, n: int):
    """``n`` more of each row kind in ``rm``'s book: tasks today and overdue, birthdays (solar and lunar), campaign
    contacts (with and without a task), customers on the downgrade watch and overdue."""
    spring = campaign(f"活动{rm.pk}")
    for k in range(n):
        cust = CustomerFactory(rm=rm, branch=rm.branch, birth_date=dt.date(1980 + k, 2, 26),
                               lunar_birthday=bool(k % 2))
        FollowUpTaskFactory(customer=cust, due_date=TODAY)
        FollowUpTaskFactory(customer=cust, due_date=TODAY - dt.timedelta(days=k + 1))
        Member.objects.create(campaign=spring, customer=cust)
        if k % 3 == 0:
            campaign_task(spring, cust, due=TODAY)
        assign(w.run, cust, value_tier=ValueTier.IMPORTANT, card_tier=CardTier.GOLD, months_below=1)


def _queries(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


@pytest.mark.parametrize("viewer", ["rm", "sup_b1"])
def test_the_rms_home_costs_the_same_queries_for_any_number_of_rows(w, viewer, django_assert_max_num_queries):
    c = client(getattr(w, viewer))
    params = {"rm": w.rm.pk} if viewer != "rm" else {}
    assert c.get(HOME, params).status_code == 200  # warm: sessions, content types
    few = _queries(lambda: c.get(HOME, params))
    _more_of_everything(w, w.rm, 25)
    many = _queries(lambda: c.get(HOME, params))
    assert many == few
    with django_assert_max_num_queries(25):
        r = c.get(HOME, params)
    home = r.context["home"]
    # 1 + 25 tasks due today, and the campaign tasks of every third new customer (9)
    assert home.tasks_today.count == 35 and len(home.tasks_today.rows) == selectors.HOME_ROWS
    assert home.campaign_contacts.count == 27 and len(home.campaign_contacts.rows) == selectors.HOME_ROWS


def test_the_team_table_costs_the_same_queries_for_any_number_of_rms(w, django_assert_max_num_queries):
    c = client(w.sup_b1)
    assert c.get(HOME).status_code == 200
    few = _queries(lambda: c.get(HOME))
    for _k in range(8):
        _more_of_everything(w, RMFactory(branch=w.b1), 3)
    many = _queries(lambda: c.get(HOME))
    assert many == few
    with django_assert_max_num_queries(20):
        team = c.get(HOME).context["team"]
    # each new RM: 3 tasks due today and the campaign task of their first customer
    assert len(team.page.object_list) == 10 and team.total.tasks_today == 2 + 8 * 4
