"""The care jobs' work over the customer book, set-based: birthday reminders and greetings, festival greetings.
Each RM task is created once per occasion through a ``CareKey`` inserted ``ON CONFLICT DO NOTHING … RETURNING``, each
message once through its unique ``key``: a job run twice, on two workers at once, or by two beats, does each thing
once. "The day" is the Asia/Shanghai date the job runs for (a parameter)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _

from customers import services as customer_services
from customers.models import Customer

from . import rules
from .constants import MessageChannel
from .models import CareKey, Message


def _time(value: str) -> dt.time:
    return dt.time.fromisoformat(value)


def quiet_hours() -> tuple[dt.time, dt.time]:
    return _time(settings.CARE_QUIET_START), _time(settings.CARE_QUIET_END)


@lru_cache(maxsize=65536)
def _lunar(birth: dt.date) -> rules.LunarDate:
    return rules.lunar_of(birth)


def birthday_customers(day: dt.date) -> Q:
    """The customers whose birthday is celebrated on ``day``, as a filter: solar
    birthdays by (month, day) (Feb 29 on Feb 28 of a common year), lunar ones by the birth dates whose lunar date
    falls on ``day`` this lunar year (the distinct birth dates of lunar-preferring customers, converted once each)."""
    pairs = rules.solar_birthdays_on(day, feb29_on_feb28=settings.CARE_FEB29_ON_FEB28)
    solar = Q()
    for month, d in pairs:
        solar |= Q(birth_date__month=month, birth_date__day=d)
    lunar_wanted = set(rules.lunar_birthdays_on(day, leap_to_regular=settings.CARE_LUNAR_LEAP_TO_REGULAR,
                                                day30_to_29=settings.CARE_LUNAR_DAY30_TO_29))
    dates = (Customer.objects.filter(lunar_birthday=True, birth_date__isnull=False).order_by()
             .values_list("birth_date", flat=True).distinct())
    lunar_dates = [b for b in dates if _lunar(b) in lunar_wanted]
    return (Q(lunar_birthday=False) & solar) | Q(lunar_birthday=True, birth_date__in=lunar_dates)


def occasion(day: dt.date, lunar: bool) -> str:
    """The year an occasion belongs to: the Gregorian year, or the lunar year for a lunar birthday (a lunar date can
    fall twice in one Gregorian year, never twice in one lunar year)."""
    return f"L{rules.lunar_year(day)}" if lunar else str(day.year)


def claim_keys(rows: list[tuple[str, int]]) -> set[str]:
    """Insert care keys ``(key, customer id)``; the keys this call inserted (the others existed: already done)."""
    if not rows:
        return set()
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {CareKey._meta.db_table} (key, customer_id, created_at) "
            f"SELECT k, c, now() FROM unnest(%s::text[], %s::bigint[]) AS v(k, c) "
            f"ON CONFLICT (key) DO NOTHING RETURNING key",
            [[r[0] for r in rows], [r[1] for r in rows]])
        return {row[0] for row in cur.fetchall()}


def _link_tasks(keys: list[str], task_ids: list[int]) -> None:
    if keys:
        with connection.cursor() as cur:
            cur.execute(f"UPDATE {CareKey._meta.db_table} k SET task_id = v.t "
                        f"FROM unnest(%s::text[], %s::bigint[]) AS v(key, t) WHERE k.key = v.key", [keys, task_ids])


def schedule_once(wanted: dict[str, tuple[int, int, str, dt.date]]) -> int:
    """RM tasks ``{care key: (customer id, RM id, title, due date)}``, each created once: the keys this call claims
    get their task (linked to the key), the others were done already. How many tasks were created."""
    claimed = sorted(claim_keys([(k, v[0]) for k, v in wanted.items()]))
    tasks = customer_services.tasks_schedule(rows=[wanted[k] for k in claimed])
    _link_tasks(claimed, [t.pk for t in tasks])
    return len(tasks)


def greeting_channel(c) -> tuple[str, str] | None:
    """The channel a greeting goes through: the first the customer consented to and can be reached on (SMS, in-app,
    email); None for do-not-contact or no consent."""
    if c.do_not_contact:
        return None
    if c.consent_sms and c.mobile:
        return MessageChannel.SMS, c.mobile
    if c.consent_app:
        return MessageChannel.APP, c.cif
    if c.consent_email and c.email:
        return MessageChannel.EMAIL, c.email
    return None


def greeting_text(c, template: str) -> str:
    return rules.render(template, rules.template_values(
        name=c.name, gender=c.gender, rm=c.rm.display_name if c.rm_id else "", branch=c.branch.name))


BATCH = 20_000


@transaction.atomic
def birthday_scan(*, day: dt.date, now: dt.datetime) -> dict:
    """For ``day`` (Asia/Shanghai): a reminder task for the RM of every customer whose birthday is
    ``CARE_BIRTHDAY_DAYS_AHEAD`` days later, and a greeting to every customer whose birthday is ``day``, through a
    consented channel, due at the first moment outside quiet hours. Each once per customer and occasion."""
    ahead = day + dt.timedelta(days=settings.CARE_BIRTHDAY_DAYS_AHEAD)
    counts = {"reminders": 0, "greetings": 0, "no_channel": 0}
    match = birthday_customers(ahead)
    reminders = list(Customer.objects.filter(match, rm__isnull=False).values_list("pk", "rm_id", "name",
                                                                                 "lunar_birthday"))
    keys = {f"birthday-reminder:{occasion(ahead, lunar)}:{pk}": (pk, rm, name)
            for pk, rm, name, lunar in reminders}
    claimed = claim_keys([(k, v[0]) for k, v in keys.items()])
    with translation.override(settings.LANGUAGE_CODE):
        title = _("Birthday on %(day)s: %(name)s")
        rows = [(keys[k][0], keys[k][1], title % {"day": ahead.strftime("%m-%d"), "name": keys[k][2]}, ahead)
                for k in sorted(claimed)]
    tasks = customer_services.tasks_schedule(rows=rows)
    _link_tasks(sorted(claimed), [t.pk for t in tasks])
    counts["reminders"] = len(tasks)

    match = birthday_customers(day)
    start, end = quiet_hours()
    due = rules.next_allowed(now, quiet_start=start, quiet_end=end)
    with translation.override(settings.LANGUAGE_CODE):
        template = _("{surname}{honorific}, {branch} wishes you a happy birthday!")
    greeted, counts["no_channel"] = _greet(
        Customer.objects.filter(match), template=template, purpose=Message.Purpose.BIRTHDAY, due=due,
        key=lambda c: f"birthday:{occasion(day, c.lunar_birthday)}:{c.pk}")
    counts["greetings"] = greeted
    return counts


def _greet(customers, *, template: str, purpose: str, due: dt.datetime, key) -> tuple[int, int]:
    """Queue a greeting to each of ``customers`` through their consented channel (an SMS with the opt-out line), in
    batches; ``key(customer)`` is the occasion's unique key. Returns (new greetings, customers without a channel)."""
    greeted = no_channel = 0
    batch: list[Message] = []
    for c in customers.select_related("rm", "branch").iterator(chunk_size=BATCH):
        channel = greeting_channel(c)
        if channel is None:
            no_channel += 1
            continue
        text = greeting_text(c, template)
        if channel[0] == MessageChannel.SMS:
            text = rules.with_opt_out(text)
        batch.append(Message(key=key(c), customer=c, channel=channel[0], recipient=channel[1], purpose=purpose,
                             body=text, due_at=due))
        if len(batch) >= BATCH:
            greeted += _insert_messages(batch)
            batch = []
    return greeted + _insert_messages(batch), no_channel


def _insert_messages(messages: list[Message]) -> int:
    """Insert messages whose key is new (ON CONFLICT DO NOTHING); how many were new."""
    if not messages:
        return 0
    existing = set(Message.objects.filter(key__in=[m.key for m in messages]).values_list("key", flat=True))
    fresh = [m for m in messages if m.key not in existing]
    Message.objects.bulk_create(fresh, batch_size=5000, ignore_conflicts=True)
    return len(fresh)


# ---- festivals ---------------------------------------------------------------------------------------------------

KEY_TIERS = ("important", "secondary")  # segmentation's key customers: an RM call besides the message


def _festival_names() -> dict[str, str]:
    from .constants import Festival

    return {str(code): str(label) for code, label in Festival.choices}


@transaction.atomic
def festival_scan(*, day: dt.date, now: dt.datetime) -> dict:
    """On a festival day (the lunar ones computed; the bank's own dates from ``BankDate``): a greeting to every
    customer who consented to a channel, and for key customers (the tier in force: important or secondary) an RM
    call task as well. Each once per customer, festival and year."""
    from segmentation.models import Assignment
    from segmentation.selectors import current_run

    from .models import BankDate

    bank = [(b.code, b.day) for b in BankDate.objects.filter(active=True, day=day)]
    names = {**_festival_names(), **{b.code: b.name for b in BankDate.objects.filter(active=True, day=day)}}
    counts = {"festivals": 0, "greetings": 0, "calls": 0, "no_channel": 0}
    start, end = quiet_hours()
    due = rules.next_allowed(now, quiet_start=start, quiet_end=end)
    run = current_run()
    for code in rules.festivals_on(day, bank):
        counts["festivals"] += 1
        with translation.override(settings.LANGUAGE_CODE):
            template = _("{surname}{honorific}, {branch} wishes you a happy %(festival)s!") % {
                "festival": names.get(code, code)}
            title = _("%(festival)s: call %(name)s")
        key_customers = set()
        if run is not None:
            key_customers = set(Assignment.objects.filter(run=run, value_tier__in=KEY_TIERS).values_list(
                "customer_id", flat=True))
        calls = list(Customer.objects.filter(pk__in=key_customers, rm__isnull=False, do_not_contact=False)
                     .values_list("pk", "rm_id", "name"))
        keyed = {f"festival-call:{code}:{day.year}:{pk}": (pk, rm, name) for pk, rm, name in calls}
        claimed = sorted(claim_keys([(k, v[0]) for k, v in keyed.items()]))
        tasks = customer_services.tasks_schedule(rows=[
            (keyed[k][0], keyed[k][1], title % {"festival": names.get(code, code), "name": keyed[k][2]}, day)
            for k in claimed])
        _link_tasks(claimed, [t.pk for t in tasks])
        counts["calls"] += len(tasks)
        consenting = Customer.objects.filter(do_not_contact=False).filter(
            Q(consent_sms=True) | Q(consent_app=True) | Q(consent_email=True))
        greeted, no_channel = _greet(consenting, template=template, purpose=Message.Purpose.FESTIVAL, due=due,
                                     key=lambda c, code=code: f"festival:{code}:{day.year}:{c.pk}")
        counts["greetings"] += greeted
        counts["no_channel"] += no_channel
    return counts


# ---- the follow-up plan --------------------------------------------------------------------------------------------

FOLLOW_UP = "followup:"


@transaction.atomic
def follow_up_scan(*, day: dt.date, now: dt.datetime) -> dict:
    """A follow-up task for the RM of every customer whose last contact is older than their tier's service interval
    (segmentation's policy), unless a follow-up task of the plan is still open for them: never a second one."""
    from customers.constants import TaskStatus
    from segmentation.selectors import overdue_in_book

    overdue = list(overdue_in_book(today=day).filter(rm__isnull=False).values_list("customer_id", "rm_id"))
    open_ones = set(CareKey.objects.filter(key__startswith=FOLLOW_UP, task__status=TaskStatus.OPEN)
                    .values_list("customer_id", flat=True))
    wanted = {f"{FOLLOW_UP}{pk}:{day.isoformat()}": (pk, rm) for pk, rm in overdue if pk not in open_ones}
    claimed = sorted(claim_keys([(k, v[0]) for k, v in wanted.items()]))
    names = dict(Customer.objects.filter(pk__in=[wanted[k][0] for k in claimed]).values_list("pk", "name"))
    with translation.override(settings.LANGUAGE_CODE):
        title = _("Follow-up visit due: %(name)s")
    tasks = customer_services.tasks_schedule(rows=[
        (wanted[k][0], wanted[k][1], title % {"name": names.get(wanted[k][0], "")}, day) for k in claimed])
    _link_tasks(claimed, [t.pk for t in tasks])
    return {"overdue": len(overdue), "already_open": len(open_ones & {pk for pk, _rm in overdue}),
            "tasks": len(tasks)}
