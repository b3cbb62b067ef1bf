"""Care and campaigns' part of the demo: the morning's care jobs for the demo's day (birthday reminders and
greetings, the follow-up plan, the event-triggered tasks: upgrades, maturities, dormancy, downgrade watch), and a
campaign in each status — a draft, an approved one waiting for its start, a running one whose messages went out with
outcomes recorded, a completed one with conversions, a cancelled one — all through the app's services and jobs, so
messages, outcomes and the API show something real after ``make run``."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from campaigns import care, dispatch, events, services
from campaigns.models import Campaign, Member
from core.errors import DomainError
from org.constants import Role
from org.models import User

from .complaints import demo_now

NEXT_IDS: dict = {}
COPY_TABLES: list = []
TABLES = ["campaigns_message", "campaigns_member", "campaigns_campaign", "campaigns_carekey"]

TEMPLATE = "{surname}{honorific}您好，{branch}为代发工资客户推出专属理财，详询您的客户经理{rm}。"


def prepare(ctx, *, n_rms, log):
    """Nothing up front: campaigns need the customers and tiers the load and segmentation write."""


def chunk(ctx, index, offset, n, ids):
    return []


def finish(ctx, *, log) -> None:
    if Campaign.objects.exists():
        log("campaigns already exist: none added")
        return
    now = demo_now(ctx)
    today = timezone.localtime(now).date()
    morning = timezone.make_aware(dt.datetime.combine(today, dt.time(0, 30)))
    birthdays = care.birthday_scan(day=today, now=morning)
    follow_ups = care.follow_up_scan(day=today, now=morning)
    happened = events.care_events(day=today)
    hq, hq2 = list(User.objects.filter(role=Role.HEAD_OFFICE).order_by("id")[:2])
    sup = User.objects.filter(role=Role.SUPERVISOR).order_by("id").first()
    base = {"audience": {"tags": ["代发工资"]}, "channels": ["sms", "rm_task"], "template_zh": TEMPLATE,
            "control_share": "0.10", "product_type": "wealth"}

    def draft(name, starts, **extra):
        actor = extra.pop("actor", sup)
        prepared = starts - dt.timedelta(days=1)
        campaign = services.campaign_save(actor=actor, values={**base, "name": name, "starts_at": starts, **extra},
                                          now=prepared)
        Campaign.objects.filter(pk=campaign.pk).update(created_at=min(prepared, now))  # prepared the day before
        campaign.refresh_from_db()
        return campaign

    draft("新春理财季（草稿）", now + dt.timedelta(days=10))
    try:  # a tiny demo bank may have no customer the audience matches: the campaign then stays a draft
        services.campaign_approve(actor=hq, campaign=draft("五一出游信用卡优惠", now + dt.timedelta(days=3),
                                                           channels=["sms"]), now=now)
    except DomainError as refused:
        log(f"campaign left as a draft: {refused.fields or refused.message}")
    for name, started, finish_it in (("代发客户理财专享", now - dt.timedelta(days=5), False),
                                     ("养老金客户关怀", now - dt.timedelta(days=40), True)):
        campaign = draft(name, started, actor=hq)
        try:
            services.campaign_approve(actor=hq2, campaign=campaign, now=started - dt.timedelta(hours=1))
        except DomainError as refused:
            log(f"campaign left as a draft: {refused.fields or refused.message}")
            continue
        services.campaigns_dispatch(now=started)
        dispatch.dispatch_all(now=started + dt.timedelta(hours=10), limit=50_000)
        for k, member in enumerate(Member.objects.filter(campaign=campaign, excluded="").select_related(
                "customer__rm").order_by("id")[:60]):
            outcome = ("reached", "interested", "not_reached", "declined", "converted")[k % 5]
            if member.customer.rm_id:
                services.outcome_record(actor=member.customer.rm, member=member, outcome=outcome,
                                        now=started + dt.timedelta(days=1))
        if finish_it:
            services.campaigns_dispatch(now=started + dt.timedelta(days=campaign.attribution_days + 1))
    cancelled = draft("台风天停业通知（已取消）", now + dt.timedelta(days=1), actor=hq)
    services.campaign_cancel(actor=hq, campaign=cancelled, now=now)
    sent = dispatch.dispatch_all(now=max(now, morning.replace(hour=8)), limit=50_000)
    event_tasks = ", ".join(f"{n} {name}" for name, n in happened.items() if not name.startswith("skipped"))
    log(f"care: {birthdays['greetings']} greetings, {birthdays['reminders']} reminders, {follow_ups['tasks']} "
        f"follow-up tasks, event tasks: {event_tasks}; campaigns: {Campaign.objects.count()} in five statuses; "
        f"{sent.get('sent', 0)} messages sent now (file backend: {settings.CARE_MESSAGE_DIR})")
