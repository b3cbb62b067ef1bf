"""Issue 13 item 8: the RM home is the start page after signing in, and it reads on a desktop (1366 px) and on a
phone (390 × 844): the page never scrolls sideways (a wide table scrolls inside its card), every section is there,
and a supervisor's team table opens an RM's home.

Screenshots: tests/e2e/artifacts/test_home_*.png
"""

import datetime as dt

from django.utils import timezone

from customers.constants import TaskStatus
from customers.models import Customer, FollowUpTask

SECTIONS = ["section-tasks", "section-birthdays", "section-campaigns", "section-watch", "section-overdue"]


def _work(day):
    """Tasks today and overdue with long titles, and birthdays in the window, for rm_wang."""
    today = timezone.localdate()
    zhang, liu = day.customers["zhang"], day.customers["liu"]
    rm = day.staff["rm_wang"]
    for k, (customer, due) in enumerate([(zhang, today), (liu, today), (zhang, today - dt.timedelta(days=4)),
                                         (liu, today - dt.timedelta(days=12))]):
        FollowUpTask.objects.create(customer=customer, assignee=rm, due_date=due, status=TaskStatus.OPEN,
                                    title=f"季度回访：核对理财到期与风险评估有效期，补签材料第{k + 1}项")
    Customer.objects.filter(pk=zhang.pk).update(birth_date=today.replace(year=1985))
    Customer.objects.filter(pk=liu.pk).update(birth_date=(today + dt.timedelta(days=3)).replace(year=1990))


def _no_sideways_scroll(page, width):
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_the_rm_home_on_a_desktop_and_on_a_phone(e2e, day):
    from playwright.sync_api import expect

    _work(day)
    page = e2e.page
    page.set_viewport_size({"width": 1366, "height": 900})
    e2e.login("rm_wang")
    expect(page).to_have_url(e2e.url("/"))  # the start page
    for section in SECTIONS:
        expect(page.get_by_test_id(section)).to_be_visible()
    expect(page.get_by_test_id("count-tasks-today")).to_have_text("2")
    expect(page.get_by_test_id("count-tasks-overdue")).to_have_text("2")
    expect(page.get_by_test_id("count-birthdays")).to_have_text("2")
    e2e.shot("desktop-1366")
    _no_sideways_scroll(page, 1366)

    page.set_viewport_size({"width": 390, "height": 844})
    e2e.go("/")
    for section in SECTIONS:
        box = page.get_by_test_id(section).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (section, box)
    e2e.shot("phone-390")
    _no_sideways_scroll(page, 390)
    # a row's customer opens the customer
    page.get_by_test_id("section-birthdays").get_by_role("link", name="张伟明").click()
    expect(page.get_by_test_id("customer-name")).to_have_text("张伟明")
    e2e.problems.assert_clean()


def test_the_team_on_a_phone_opens_an_rms_home(e2e, day):
    from playwright.sync_api import expect

    _work(day)
    page = e2e.page
    page.set_viewport_size({"width": 390, "height": 844})
    e2e.login("sup_fz")
    expect(page).to_have_url(e2e.url("/"))
    table = page.get_by_test_id("team-table")
    expect(table.locator("tbody tr")).to_have_count(2)  # rm_wang and rm_li, not 厦门's rm_chen
    e2e.shot("team-phone-390")
    _no_sideways_scroll(page, 390)
    names = table.locator("tbody th a")
    for k in range(names.count()):  # a name on one line, not a character per line
        assert names.nth(k).evaluate("(a) => a.getClientRects().length") == 1
    table.get_by_role("link", name="王建国").click()
    expect(page.get_by_test_id("home-title")).to_contain_text("王建国")
    expect(page.get_by_test_id("count-tasks-today")).to_have_text("2")
    e2e.shot("team-phone-390-rm")
    _no_sideways_scroll(page, 390)
    e2e.problems.assert_clean()
