"""Issue 9, item 12: the done tab of My tasks lists the newest completion first, with its date and time
in the display time zone (Asia/Shanghai)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from customers.constants import TaskStatus

from .builders import FollowUpTaskFactory

UTC = dt.UTC


@pytest.fixture
def as_rm(world):
    client = Client()
    client.force_login(world.rm)
    return client


def test_done_tab_is_newest_completion_first_with_the_local_completion_time(world, as_rm):
    c = world.c_rm
    # Due dates in the opposite order of completion, so ordering by due date (the open tab's order) fails.
    done = {
        "old": FollowUpTaskFactory(customer=c, assignee=world.rm, title="最早完成", due_date=dt.date(2026, 12, 30),
                                   status=TaskStatus.DONE, completed_at=dt.datetime(2026, 11, 1, 2, 0, tzinfo=UTC)),
        # 2026-11-20 17:30 UTC is 2026-11-21 01:30 in Shanghai: the date shown is the local one.
        "new": FollowUpTaskFactory(customer=c, assignee=world.rm, title="最近完成", due_date=dt.date(2026, 11, 2),
                                   status=TaskStatus.DONE, completed_at=dt.datetime(2026, 11, 20, 17, 30, tzinfo=UTC)),
        "mid": FollowUpTaskFactory(customer=c, assignee=world.rm, title="中间完成", due_date=dt.date(2026, 11, 15),
                                   status=TaskStatus.DONE, completed_at=dt.datetime(2026, 11, 10, 8, 0, tzinfo=UTC)),
    }
    response = as_rm.get(reverse("customers:tasks"), {"status": "done"})
    assert [t.title for t in response.context["page"].object_list] == ["最近完成", "中间完成", "最早完成"]
    html = response.content.decode()
    assert html.count('data-testid="completed-at"') == 3
    local = done["new"].completed_at.astimezone(ZoneInfo("Asia/Shanghai"))
    assert local.strftime("%Y-%m-%d %H:%M") == "2026-11-21 01:30"
    assert '<td class="text-nowrap" data-testid="completed-at">2026-11-21 01:30</td>' in html
    assert html.index("最近完成") < html.index("中间完成") < html.index("最早完成")


def test_open_tab_keeps_due_date_order_and_has_no_completion_column(world, as_rm):
    c = world.c_rm
    FollowUpTaskFactory(customer=c, assignee=world.rm, title="后到期", due_date=dt.date(2026, 12, 30))
    FollowUpTaskFactory(customer=c, assignee=world.rm, title="先到期", due_date=dt.date(2026, 12, 1))
    response = as_rm.get(reverse("customers:tasks"))
    titles = [t.title for t in response.context["page"].object_list]
    assert titles.index("先到期") < titles.index("后到期")
    assert 'data-testid="completed-at"' not in response.content.decode()
