"""Complaints' part of the demo: complaints in every state at every branch — new, acknowledged, investigating, some
at risk and some breached (escalated), some waiting for the customer (paused), resolved with satisfaction, closed,
withdrawn, one with an extension awaiting approval, one under mediation, a major complaint, an unidentified
complainant, a re-check — so the queue and the board are alive after ``make run``.

Everything goes through the app's services, at the moments the story happened (``now`` of each step in the past),
then the SLA monitor makes one pass at the present (warnings, escalations). No COPY rows: a few dozen complaints."""

from __future__ import annotations

import datetime as dt
from importlib import import_module

import numpy as np
from django.db import transaction
from django.utils import timezone

from complaints import monitor, services
from complaints.constants import Action, Channel, Priority
from complaints.models import Category, Complaint
from customers.models import Customer
from org.constants import Role
from org.models import Branch, User

from .org import BRANCHES

NEXT_IDS: dict = {}
COPY_TABLES: list = []
TABLES = ["complaints_complaint", "complaints_complaintevent", "complaints_clockrun", "complaints_alert"]
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)

DESCRIPTIONS = {
    "card_fee": "信用卡年费未经本人同意即扣收，要求退还并说明收费依据。",
    "deposit": "定期存款到期后未按约定转存，利息损失要求补偿。",
    "loan": "提前还款申请提交两周仍未办理，违约金计算有异议。",
    "wealth": "理财产品销售时未充分揭示风险，实际收益远低于宣传。",
    "service": "网点排队时间过长，大堂经理态度冷淡。",
    "online": "手机银行转账显示成功但收款方未到账。",
}

# (name, received this long before now, steps: (action, after receipt) …, extra)
STORIES = [
    ("new", 1 * H, [], {}),
    ("first_response_at_risk", 20 * H, [], {}),
    ("acknowledged", 2 * D, [(Action.ACKNOWLEDGE, 2 * H)], {}),
    ("investigating", 4 * D, [(Action.ACKNOWLEDGE, 1 * H), (Action.INVESTIGATE, 1 * D)], {}),
    ("at_risk", 12 * D, [(Action.ACKNOWLEDGE, 3 * H), (Action.INVESTIGATE, 1 * D)], {}),
    ("breached", 19 * D, [(Action.ACKNOWLEDGE, 5 * H), (Action.INVESTIGATE, 2 * D)], {}),
    ("long_breached", 32 * D, [(Action.ACKNOWLEDGE, 30 * H), (Action.INVESTIGATE, 3 * D)], {"extension": "decided"}),
    ("paused", 6 * D, [(Action.ACKNOWLEDGE, 2 * H), (Action.INVESTIGATE, 1 * D), (Action.WAIT_CUSTOMER, 3 * D)], {}),
    ("resumed", 9 * D, [(Action.ACKNOWLEDGE, 2 * H), (Action.WAIT_CUSTOMER, 2 * D), (Action.RESUME, 4 * D)], {}),
    ("extension_pending", 11 * D, [(Action.ACKNOWLEDGE, 1 * H), (Action.INVESTIGATE, 1 * D)], {"extension": "asked"}),
    ("mediation", 8 * D, [(Action.ACKNOWLEDGE, 1 * H), (Action.INVESTIGATE, 1 * D)], {"hold": True}),
    ("resolved_happy", 7 * D, [(Action.ACKNOWLEDGE, 1 * H), (Action.INVESTIGATE, 1 * D), (Action.RESOLVE, 4 * D)],
     {"satisfaction": 5}),
    ("closed", 20 * D, [(Action.ACKNOWLEDGE, 1 * H), (Action.INVESTIGATE, 1 * D), (Action.RESOLVE, 6 * D),
                        (Action.CLOSE, 8 * D)], {"satisfaction": 4}),
    ("reopened", 15 * D, [(Action.ACKNOWLEDGE, 1 * H), (Action.RESOLVE, 5 * D)], {"satisfaction": 1}),
    ("withdrawn", 5 * D, [(Action.ACKNOWLEDGE, 1 * H), (Action.WITHDRAW, 2 * D)], {}),
]
CHANNELS = [Channel.COUNTER, Channel.HOTLINE, Channel.ONLINE, Channel.EMAIL, Channel.LETTER, Channel.REGULATOR,
            Channel.SOCIAL]


def prepare(ctx, *, n_rms, log):
    """Nothing up front: complaints need the customers the load writes."""


def chunk(ctx, index, offset, n, ids):
    return []


def demo_now(ctx) -> dt.datetime:
    """The present of the story: now, or 16:00 of ``--today`` when the demo is seeded for another day."""
    now = timezone.now()
    if timezone.localdate(now) == ctx.today:
        return now
    return timezone.make_aware(dt.datetime.combine(ctx.today, dt.time(16, 0)))


def finish(ctx, *, log) -> None:
    if Complaint.objects.exists():
        log("complaints already exist: none added")
        return
    ensure_defaults()
    rng = np.random.default_rng([ctx.seed, 12])
    now = demo_now(ctx)
    categories = list(Category.objects.filter(active=True, parent__isnull=False).order_by("id"))
    made = 0
    for code, *_rest in BRANCHES:
        branch = Branch.objects.get(code=code)
        sup = User.objects.filter(role=Role.SUPERVISOR, branch=branch, is_active=True).order_by("id").first()
        officer = User.objects.filter(role=Role.COMPLAINT_OFFICER, branch=branch, is_active=True).order_by("id").first()
        customers = list(Customer.objects.filter(branch__path__startswith=branch.path).order_by("id")[:200])
        if sup is None or officer is None or not customers:
            continue
        for k, story in enumerate(STORIES):
            customer = customers[int(rng.integers(len(customers)))]
            made += _tell(story, now=now, sup=sup, officer=officer, customer=customer,
                          category=categories[int(rng.integers(len(categories)))],
                          channel=CHANNELS[(k + made) % len(CHANNELS)], rng=rng)
        made += _specials(now=now, sup=sup, officer=officer, branch=branch, customers=customers,
                          category=categories[0])
    result = monitor.sla_monitor(now=now)
    log(f"complaints: {made} recorded; monitor: {result['alerts']} warnings and escalation steps")


def ensure_defaults() -> None:
    """The taxonomy and the default SLA policy the app's data migration installs, again if a database was emptied
    after migrating (e.g. between tests); the migration's own function, so both stay one definition."""
    from django.apps import apps

    import_module("complaints.migrations.0002_defaults").create(apps, None)


def _description(category: Category) -> str:
    parent = category.parent.code if category.parent_id else category.code
    return DESCRIPTIONS.get(parent, DESCRIPTIONS["service"])


@transaction.atomic
def _tell(story, *, now, sup, officer, customer, category, channel, rng) -> int:
    name, age, steps, extra = story
    received = now - age - dt.timedelta(minutes=int(rng.integers(0, 50)))
    c = services.complaint_open(actor=sup, customer=customer, channel=channel, category=category,
                                description=_description(category), received_at=received, now=received + 0.2 * H,
                                priority=Priority.HIGH if name in ("at_risk", "breached") else Priority.NORMAL)
    c = services.complaint_assign(actor=sup, complaint=c, handler=officer, now=received + 0.5 * H)
    for action, after in steps:
        at = min(received + after, now)
        if action == Action.CLOSE:
            c = services.complaint_act(actor=officer, complaint=c, action=action, now=at,
                                       resolution_summary="核实后退还相关费用并致歉。", root_cause="fee_rule",
                                       remedy="退还费用，赠送积分", remedies_told=True)
        else:
            if action == Action.RESOLVE:
                services.complaint_message(actor=officer, complaint=c, text="经核实，我行将于三个工作日内退还相关款项。",
                                           outgoing=True, now=at - 0.1 * H)
            c = services.complaint_act(actor=officer, complaint=c, action=action, now=at,
                                       note="已与客户电话沟通。" if action == Action.ACKNOWLEDGE else "")
    if extra.get("extension"):
        ext = services.extension_request(actor=officer, complaint=c, reason="需调取监控录像并核对交易流水。",
                                         now=received + 9 * D)
        if extra["extension"] == "decided":
            services.extension_decide(actor=sup, extension=ext, approve=True, complainant_told=True,
                                      now=received + 9 * D + 3 * H, note="同意延期，已短信告知客户。")
    if extra.get("hold"):
        services.regulatory_hold(actor=officer, complaint=c, held=True, now=received + 3 * D,
                                 note="已申请金融纠纷调解中心调解，并告知客户。")
    if extra.get("satisfaction"):
        score = extra["satisfaction"]
        services.satisfaction_record(actor=officer, complaint=c, score=score, now=received + 9 * D,
                                     note="满意" if score >= 4 else "对处理结果不满意", follow_up="reopen")
    services.complaint_note(actor=sup, complaint=c, text="请按时限办结，注意留存沟通记录。", now=received + 1 * H)
    return 1


@transaction.atomic
def _specials(*, now, sup, officer, branch, customers, category) -> int:
    """A major complaint (20 people at the counter), an unidentified complainant by letter, and a re-check."""
    services.complaint_open(actor=sup, customer=customers[0], channel=Channel.COUNTER, category=category,
                            description="二十余名客户到网点反映同一理财产品兑付延迟。", complainants=23,
                            received_at=now - 3 * H, now=now - 2 * H)
    services.complaint_open(actor=sup, branch=branch, complainant_name="匿名来信人", complainant_phone="13900001111",
                            channel=Channel.LETTER, category=category, description="来信反映网点收费公示不清。",
                            received_at=now - 2 * D, now=now - 2 * D + 2 * H)
    decided = services.complaint_open(actor=sup, customer=customers[-1], channel=Channel.HOTLINE, category=category,
                                      description="对贷款利率调整有异议。", received_at=now - 12 * D,
                                      now=now - 12 * D + H)
    decided = services.complaint_assign(actor=sup, complaint=decided, handler=officer, now=now - 12 * D + 2 * H)
    decided = services.complaint_act(actor=officer, complaint=decided, action=Action.ACKNOWLEDGE, now=now - 11 * D)
    decided = services.complaint_act(actor=officer, complaint=decided, action=Action.RESOLVE, now=now - 6 * D)
    services.review_open(actor=sup, complaint=decided, requested_at=now - 2 * D, now=now - 2 * D + H,
                         description="客户对处理决定不服，申请上级机构核查。")
    return 4
