"""Test data for the RM home: the segmented world (tests/segmentation/builders.py) at a pinned day, with known
birthdays, tasks around today, last contacts and a running campaign.

Pinned day: Thursday 2027-02-25 (Asia/Shanghai), a common year: the birthday window is 02-25 … 03-03 and Feb 29
births are celebrated on Feb 28.
"""

import datetime as dt
from zoneinfo import ZoneInfo

from campaigns.constants import CampaignStatus
from campaigns.models import Campaign, CareKey, Member
from customers.constants import TaskStatus
from customers.models import Customer, Interaction
from tests.customers.builders import CustomerFactory, FollowUpTaskFactory, InteractionFactory
from tests.segmentation.builders import build_segmented_world

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2027, 2, 25, 10, 30, tzinfo=SH)
TODAY = NOW.date()
OUTSIDE_WINDOW = dt.date(1970, 6, 15)


def last_contact(customer, days_ago: int | None) -> None:
    Interaction.objects.filter(customer=customer).delete()
    if days_ago is not None:
        InteractionFactory(customer=customer, occurred_at=NOW - dt.timedelta(days=days_ago))


def campaign(name: str, status: str = CampaignStatus.RUNNING) -> Campaign:
    return Campaign.objects.create(name=name, status=status, channels=["sms", "rm_task"],
                                   launched_at=NOW - dt.timedelta(days=2))


def campaign_task(camp: Campaign, customer, *, due: dt.date, status: str = TaskStatus.OPEN):
    """The RM task a campaign launch gives (care key ``campaign:<id>:<customer>``)."""
    task = FollowUpTaskFactory(customer=customer, due_date=due, status=status, title=f"活动“{camp.name}”：联系")
    CareKey.objects.create(key=f"campaign:{camp.pk}:{customer.pk}", customer=customer, task=task)
    return task


def build_home_world():
    """The segmented world (rm: c_rm, c_rm_outlet at B1/B1a; other_rm: c_other at B1; rm_b2: c_b2 at B2) and:

    - birthdays (everyone else born outside the window): rm's ``today`` (1980-02-25, turns 47), ``feb29``
      (1992-02-29 → 02-28, turns 35), ``lunar`` (lunar, 1975-03-04 = lunar 1/22 → 2027-02-27, turns 52); not in the
      window: ``lunar_solar_only`` (lunar, 1985-03-01: its solar date is in the window, its lunar one is not),
      ``yesterday`` (1980-02-24), ``after`` (1980-03-04); other_rm's ``other_birthday`` (1980-03-01);
    - rm's open tasks: ``due_today`` (c_rm), ``overdue`` (c_rm_outlet, 3 days), not counted: ``tomorrow``, ``done``
      (due 5 days ago), and the world's tasks due in 2030; other_rm's ``other_today`` (c_other);
    - last contacts: c_rm (important, every 30 days) 40 days ago → overdue; c_rm_outlet (small) yesterday;
      c_other 40 days ago (secondary, 30 days) → overdue; c_b2 yesterday;
    - the downgrade watch: c_rm (black gold, one run below) — the world's own;
    - campaign "春季理财" (running): c_rm contacted, no outcome → a contact; c_rm_outlet contacted, outcome
      recorded but its RM task still open → a contact; ``today`` in the control group → not; c_other → other_rm's
      contact; campaign "已结束" (completed): c_rm contacted, no outcome → not (not running).
    """
    w = build_segmented_world()
    c = w.customers
    Customer.objects.filter(pk__in=[x.pk for x in c.values()]).update(birth_date=OUTSIDE_WINDOW)
    make = lambda key, rm, birth, **kw: c.setdefault(key, CustomerFactory(rm=rm, branch=rm.branch, birth_date=birth,
                                                                        name=kw.pop("name", key), **kw))
    make("today", w.rm, dt.date(1980, 2, 25), name="寿星今天")
    make("feb29", w.rm, dt.date(1992, 2, 29), name="闰日生")
    make("lunar", w.rm, dt.date(1975, 3, 4), lunar_birthday=True, name="农历生")
    make("lunar_solar_only", w.rm, dt.date(1985, 3, 1), lunar_birthday=True)
    make("yesterday", w.rm, dt.date(1980, 2, 24))
    make("after", w.rm, dt.date(1980, 3, 4))
    make("other_birthday", w.other_rm, dt.date(1980, 3, 1))
    for key in ("today", "feb29", "lunar", "lunar_solar_only", "yesterday", "after", "other_birthday"):
        Interaction.objects.filter(customer=c[key]).delete()

    w.home_tasks = {
        "due_today": FollowUpTaskFactory(customer=c["c_rm"], due_date=TODAY, title="回访张伟明"),
        "overdue": FollowUpTaskFactory(customer=c["c_rm_outlet"], due_date=TODAY - dt.timedelta(days=3),
                                       title="补签风险评估"),
        "tomorrow": FollowUpTaskFactory(customer=c["c_rm"], due_date=TODAY + dt.timedelta(days=1)),
        "done": FollowUpTaskFactory(customer=c["c_rm"], due_date=TODAY - dt.timedelta(days=5),
                                    status=TaskStatus.DONE),
        "other_today": FollowUpTaskFactory(customer=c["c_other"], due_date=TODAY),
    }
    last_contact(c["c_rm"], 40)
    last_contact(c["c_rm_outlet"], 1)
    last_contact(c["c_other"], 40)
    last_contact(c["c_b2"], 1)

    spring = campaign("春季理财")
    w.campaign = spring
    Member.objects.create(campaign=spring, customer=c["c_rm"])
    Member.objects.create(campaign=spring, customer=c["c_rm_outlet"], outcome="reached", outcome_at=NOW)
    w.campaign_task = campaign_task(spring, c["c_rm_outlet"], due=TODAY - dt.timedelta(days=2))
    Member.objects.create(campaign=spring, customer=c["today"], excluded="control")
    Member.objects.create(campaign=spring, customer=c["c_other"])
    ended = campaign("已结束", status=CampaignStatus.COMPLETED)
    Member.objects.create(campaign=ended, customer=c["c_rm"])
    return w
