"""Event-triggered care on PostgreSQL: a tier upgrade between the run before and the run in force (not the same
tier, not a downgrade, not a first tier), a deposit or wealth holding maturing within N days (N in, N + 1 not yet),
a customer dormant for N days (N - 1 not yet; the catch-up window's end), a card tier on the downgrade watch: each an
RM task once per event, nothing new when the job runs again, no task without an RM or for do-not-contact; the
nightly job records its counts and its beat row fires at 06:10 Shanghai time."""

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from campaigns import events, jobs
from campaigns.models import CareKey, JobRun
from customers.constants import HoldingStatus, ProductType
from customers.models import FollowUpTask
from segmentation.constants import CardTier, ValueTier
from tests.customers.builders import CustomerFactory, HoldingFactory
from tests.org.builders import RMFactory
from tests.segmentation.builders import RunFactory, assign

SH = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 3, 2)
NOTHING = {"tasks": 0, "no_rm": 0, "do_not_contact": 0}


@pytest.fixture(autouse=True)
def pinned(settings):
    settings.LANGUAGE_CODE = "zh-hans"
    settings.CARE_MATURITY_DAYS = 14
    settings.CARE_MATURITY_MIN_BALANCE = 0
    settings.CARE_DORMANT_DAYS = 180
    settings.CARE_DORMANT_CATCH_UP_DAYS = 30


@pytest.fixture
def rm(db):
    return RMFactory(username="rm_events")


def customer(rm, **kwargs):
    return CustomerFactory(rm=rm, **kwargs)


def tasks_of(c) -> list[FollowUpTask]:
    return list(FollowUpTask.objects.filter(customer=c))


# ---- tier upgrades ---------------------------------------------------------------------------------------------------

def two_runs():
    """October's run (finished first) and November's, the one in force."""
    earlier = RunFactory(as_of=dt.date(2026, 10, 1), finished_at=timezone.now() - dt.timedelta(days=30))
    current = RunFactory(as_of=dt.date(2026, 11, 1), is_current=True)
    return earlier, current


def test_a_higher_value_or_card_tier_is_congratulated_once_per_run(rm):
    earlier, current = two_runs()
    V, C = ValueTier, CardTier
    cases = {  # name: (value before, card before, value now, card now)
        "value_up": (V.SMALL, C.GOLD, V.ORDINARY, C.GOLD),
        "card_up": (V.SECONDARY, C.GOLD, V.SECONDARY, C.PLATINUM),
        "both_up": (V.SECONDARY, C.PLATINUM, V.IMPORTANT, C.BLACK_GOLD),
        "same": (V.ORDINARY, C.GOLD, V.ORDINARY, C.GOLD),
        "value_down": (V.IMPORTANT, C.GOLD, V.SECONDARY, C.GOLD),
        "card_down": (V.ORDINARY, C.PLATINUM, V.ORDINARY, C.GOLD),
        "was_unclassified": ("", "", V.IMPORTANT, C.PRIVATE),
    }
    people = {}
    for name, (v0, c0, v1, c1) in cases.items():
        people[name] = customer(rm, name=name)
        assign(earlier, people[name], value_tier=v0, card_tier=c0)
        assign(current, people[name], value_tier=v1, card_tier=c1)
    first_tier = customer(rm, name="new")  # no row in October: a first tier, not an upgrade
    assign(current, first_tier, value_tier=V.IMPORTANT, card_tier=C.PRIVATE)
    no_rm = CustomerFactory(rm=None)
    dnc = customer(rm, do_not_contact=True)
    for c in (no_rm, dnc):
        assign(earlier, c, value_tier=V.SMALL)
        assign(current, c, value_tier=V.ORDINARY)

    assert events.upgrade_scan(day=DAY) == {"tasks": 3, "no_rm": 1, "do_not_contact": 1}
    upgraded = {t.customer.name: t for t in FollowUpTask.objects.select_related("customer")}
    assert set(upgraded) == {"value_up", "card_up", "both_up"}
    assert "value_up" in upgraded["value_up"].title and "普通客户" in upgraded["value_up"].title  # the new tier
    assert "白金" in upgraded["card_up"].title and "普通客户" not in upgraded["card_up"].title
    both = upgraded["both_up"]
    assert "重要客户" in both.title and "黑金" in both.title
    assert both.assignee == rm and both.due_date == DAY
    assert CareKey.objects.get(task=both).key == f"upgrade:{current.pk}:{people['both_up'].pk}"
    assert events.upgrade_scan(day=DAY) == {"tasks": 0, "no_rm": 1, "do_not_contact": 1}  # again: nothing new
    assert events.upgrade_scan(day=DAY + dt.timedelta(days=1))["tasks"] == 0  # the same run on the next night
    assert FollowUpTask.objects.count() == 3


def test_no_run_before_the_one_in_force_is_no_upgrade(rm):
    current = RunFactory(is_current=True)
    assign(current, customer(rm), value_tier=ValueTier.IMPORTANT)
    assert events.upgrade_scan(day=DAY) == NOTHING
    assert not FollowUpTask.objects.exists()


def test_the_run_before_is_the_one_finished_last_before_the_run_in_force(rm):
    oldest = RunFactory(as_of=dt.date(2026, 9, 1), finished_at=timezone.now() - dt.timedelta(days=60))
    earlier, current = two_runs()
    c = customer(rm)
    assign(oldest, c, value_tier=ValueTier.SMALL)  # an upgrade against September, not against October
    assign(earlier, c, value_tier=ValueTier.ORDINARY)
    assign(current, c, value_tier=ValueTier.ORDINARY)
    assert events.upgrade_scan(day=DAY)["tasks"] == 0


# ---- maturities -------------------------------------------------------------------------------------------------------

def test_a_deposit_or_wealth_holding_maturing_within_n_days_is_told_once(rm):
    owner = customer(rm, name="钱多多")
    on = lambda days, **kw: HoldingFactory(customer=owner, matures_on=DAY + dt.timedelta(days=days), **kw)
    today = on(0, product_type=ProductType.TIME_DEPOSIT)
    last_day = on(14, product_type=ProductType.WEALTH, product_name="稳健理财14天", balance=Decimal("200000.00"))
    tomorrows = on(15, product_type=ProductType.TIME_DEPOSIT)
    on(-1, product_type=ProductType.TIME_DEPOSIT)  # matured yesterday: past telling
    on(3, product_type=ProductType.FUND)  # not a deposit or wealth product
    on(3, product_type=ProductType.LOAN)
    on(3, product_type=ProductType.WEALTH, status=HoldingStatus.CLOSED)
    HoldingFactory(customer=owner, matures_on=None)
    HoldingFactory(customer=CustomerFactory(rm=None), matures_on=DAY + dt.timedelta(days=2))
    HoldingFactory(customer=customer(rm, do_not_contact=True), matures_on=DAY + dt.timedelta(days=2))

    assert events.maturity_scan(day=DAY) == {"tasks": 2, "no_rm": 1, "do_not_contact": 1}
    told = {CareKey.objects.get(task=t).key: t for t in FollowUpTask.objects.all()}
    assert set(told) == {f"maturity:{today.pk}:2026-03-02", f"maturity:{last_day.pk}:2026-03-16"}
    task = told[f"maturity:{last_day.pk}:2026-03-16"]
    assert task.due_date == dt.date(2026, 3, 16) and task.assignee == rm
    assert "稳健理财14天" in task.title and "钱多多" in task.title and "200,000.00" in task.title
    assert events.maturity_scan(day=DAY)["tasks"] == 0  # again: nothing new
    nxt = events.maturity_scan(day=DAY + dt.timedelta(days=1))  # the 15-day one is now 14 days out
    assert nxt["tasks"] == 1 and CareKey.objects.filter(key=f"maturity:{tomorrows.pk}:2026-03-17").exists()
    # rolled over to a new maturity date: told again for that date
    today.matures_on = DAY + dt.timedelta(days=10)
    today.save()
    assert events.maturity_scan(day=DAY + dt.timedelta(days=1))["tasks"] == 1
    assert FollowUpTask.objects.count() == 4


def test_a_minimum_balance_leaves_small_holdings_out(rm, settings):
    settings.CARE_MATURITY_MIN_BALANCE = 100_000
    owner = customer(rm)
    HoldingFactory(customer=owner, matures_on=DAY, balance=Decimal("99999.99"))
    big = HoldingFactory(customer=owner, matures_on=DAY, balance=Decimal("100000.00"))
    assert events.maturity_scan(day=DAY)["tasks"] == 1
    assert CareKey.objects.get().key.startswith(f"maturity:{big.pk}:")


# ---- dormancy ---------------------------------------------------------------------------------------------------------

def test_a_customer_dormant_for_n_days_gets_a_win_back_call_once(rm):
    ago = lambda days, **kw: customer(rm, last_txn_date=DAY - dt.timedelta(days=days), **kw)
    exactly = ago(180, name="沉睡甲")
    ago(179)  # one day short
    edge = ago(210)  # the catch-up window's far end
    ago(211)  # dormant long before: the exit review's, not a win-back call
    customer(rm, last_txn_date=None)
    CustomerFactory(rm=None, last_txn_date=DAY - dt.timedelta(days=190))
    ago(190, do_not_contact=True)

    assert events.dormancy_scan(day=DAY) == {"tasks": 2, "no_rm": 1, "do_not_contact": 1}
    assert {t.customer_id for t in FollowUpTask.objects.all()} == {exactly.pk, edge.pk}
    task = tasks_of(exactly)[0]
    assert task.due_date == DAY and "沉睡甲" in task.title and "2025-09-03" in task.title
    assert CareKey.objects.get(task=task).key == f"dormant:{exactly.pk}:2025-09-03"
    assert events.dormancy_scan(day=DAY)["tasks"] == 0  # again: nothing new
    assert events.dormancy_scan(day=DAY + dt.timedelta(days=1))["tasks"] == 1  # the 179-day one turned dormant
    # the customer transacts, then is dormant again: a new call
    exactly.last_txn_date = DAY
    exactly.save()
    later = DAY + dt.timedelta(days=180)
    assert events.dormancy_scan(day=later)["tasks"] == 1 and len(tasks_of(exactly)) == 2


# ---- the downgrade watch ----------------------------------------------------------------------------------------------

def test_a_card_tier_on_the_downgrade_watch_gets_a_retention_task_once_per_run(rm):
    run = RunFactory(is_current=True)
    watched = customer(rm, name="保级客户")
    assign(run, watched, card_tier=CardTier.PLATINUM, card_tier_computed=CardTier.GOLD, months_below=2,
           aum_avg=Decimal("250000.00"))
    assign(run, customer(rm), card_tier=CardTier.PLATINUM, months_below=0)  # not below its tier
    assign(run, customer(rm), card_tier=CardTier.PLATINUM, months_below=1, overridden=True)  # pinned
    assign(run, CustomerFactory(rm=None), card_tier=CardTier.GOLD, months_below=1)

    assert events.downgrade_watch_scan(day=DAY) == {"tasks": 1, "no_rm": 1, "do_not_contact": 0}
    task = FollowUpTask.objects.get()
    assert task.customer == watched and task.assignee == rm and task.due_date == DAY
    assert "保级客户" in task.title and "250,000" in task.title and "300,000" in task.title
    assert re.search(r"(?<![\d,])1(?![\d,])", task.title)  # platinum held 2 of 3 runs below: 1 run left
    assert CareKey.objects.get(task=task).key == f"downgrade-watch:{run.pk}:{watched.pk}"
    assert events.downgrade_watch_scan(day=DAY)["tasks"] == 0  # again: nothing new
    # the next monthly run keeps it on the watch: a new task for that run
    nxt = RunFactory(as_of=dt.date(2026, 12, 1))
    run.is_current = False
    run.save()
    nxt.is_current = True
    nxt.save()
    assign(nxt, watched, card_tier=CardTier.PLATINUM, months_below=1)
    assert events.downgrade_watch_scan(day=DAY)["tasks"] == 1 and len(tasks_of(watched)) == 2


def test_no_run_in_force_no_event_of_the_tiers(rm):
    assert events.upgrade_scan(day=DAY) == NOTHING
    assert events.downgrade_watch_scan(day=DAY) == NOTHING


# ---- the nightly job ---------------------------------------------------------------------------------------------------

@pytest.fixture
def a_night(rm):
    """One event of each kind for ``DAY``."""
    earlier, current = two_runs()
    up = customer(rm)
    assign(earlier, up, value_tier=ValueTier.SMALL)
    assign(current, up, value_tier=ValueTier.ORDINARY)
    assign(current, customer(rm), card_tier=CardTier.GOLD, months_below=1)
    HoldingFactory(customer=customer(rm), matures_on=DAY + dt.timedelta(days=7))
    customer(rm, last_txn_date=DAY - dt.timedelta(days=200))
    CustomerFactory(rm=None, last_txn_date=DAY - dt.timedelta(days=200))


def test_the_job_records_its_counts_and_a_second_run_adds_nothing(a_night):
    now = dt.datetime(2026, 3, 2, 6, 10, tzinfo=SH)
    first = jobs.run("care_events", day=DAY, now=now)
    assert first.counts == {"upgrades": 1, "maturities": 1, "dormant": 1, "downgrade_watch": 1, "skipped_no_rm": 1,
                            "skipped_do_not_contact": 0}
    assert first.finished_at is not None and FollowUpTask.objects.count() == 4
    second = jobs.run("care_events", day=DAY, now=now)
    assert second.counts == {"upgrades": 0, "maturities": 0, "dormant": 0, "downgrade_watch": 0,
                             "skipped_no_rm": 1, "skipped_do_not_contact": 0}
    assert FollowUpTask.objects.count() == 4 and JobRun.objects.filter(job="care_events").count() == 2


def test_the_task_at_0610_shanghai_and_run_job(a_night, capsys):
    from campaigns.tasks import care_events

    with time_machine.travel(dt.datetime(2026, 3, 1, 22, 10, tzinfo=dt.UTC), tick=False):  # 06:10 on the 2nd
        counts = care_events.run()
    assert counts["maturities"] == 1 and JobRun.objects.get().day == DAY
    call_command("run_job", "care_events", "--date", "2026-03-02")
    assert "care_events for 2026-03-02" in capsys.readouterr().out
    assert FollowUpTask.objects.count() == 4


def test_the_beat_row_fires_at_0610_shanghai_time(db):
    from django_celery_beat.models import PeriodicTask

    row = PeriodicTask.objects.get(task="campaigns.tasks.care_events")
    assert row.crontab.timezone.key == "Asia/Shanghai" and (row.crontab.hour, row.crontab.minute) == ("6", "10")
