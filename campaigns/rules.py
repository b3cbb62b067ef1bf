"""Pure rules of care campaigns (DOMAIN.md §5): the customer's day in Asia/Shanghai, birthdays (Feb 29, lunar
birthdays with leap months and day 30, scheduled by lunar year), festivals (lunar dates computed with lunar-python,
never typed in per year), quiet hours across midnight, the frequency cap's next open window, product suitability,
the stable control group, message templates with their variables, and uplift with its confidence interval.

No ORM, no settings, no clock: ``now``/``today`` and every setting are parameters.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import math
import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from lunar_python import Lunar, LunarMonth, LunarYear, Solar

from .constants import Festival

SHANGHAI = ZoneInfo("Asia/Shanghai")


# ---- the customer's day ------------------------------------------------------------------------------------------

def local_date(now: dt.datetime, tz: ZoneInfo = SHANGHAI) -> dt.date:
    """The date of ``now`` (aware) where the customer lives: 16:30 UTC on the 4th is the 5th in Shanghai."""
    if now.tzinfo is None:
        raise ValueError("an aware datetime is needed")
    return now.astimezone(tz).date()


# ---- birthdays ---------------------------------------------------------------------------------------------------

def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def solar_birthday(birth: dt.date, year: int, *, feb29_on_feb28: bool = True) -> dt.date | None:
    """The day ``birth`` is celebrated in ``year``: Feb 29 births on Feb 28 in common years (or not at all when
    ``feb29_on_feb28`` is off)."""
    if birth.month == 2 and birth.day == 29 and not _is_leap(year):
        return dt.date(year, 2, 28) if feb29_on_feb28 else None
    return birth.replace(year=year)


def solar_birthdays_on(day: dt.date, *, feb29_on_feb28: bool = True) -> list[tuple[int, int]]:
    """The (month, day) of birth dates greeted on ``day``: its own, and Feb 29 on Feb 28 of a common year. A scan
    asks the database for these (month, day) pairs, so every customer is found in one query."""
    pairs = [(day.month, day.day)]
    if feb29_on_feb28 and day.month == 2 and day.day == 28 and not _is_leap(day.year):
        pairs.append((2, 29))
    return pairs


@dataclass(frozen=True)
class LunarDate:
    month: int  # 1–12
    day: int  # 1–30
    leap: bool = False  # born in a leap month (闰月)


@lru_cache(maxsize=512)
def _lunar_months(lunar_year: int) -> tuple[list[dt.date], list[int]]:
    """The first Gregorian day and the signed month number (negative: leap) of every month of a lunar year."""
    starts, numbers = [], []
    for month in LunarYear.fromYear(lunar_year).getMonths():
        if month.getYear() == lunar_year:
            solar = Solar.fromJulianDay(month.getFirstJulianDay())
            starts.append(dt.date(solar.getYear(), solar.getMonth(), solar.getDay()))
            numbers.append(month.getMonth())
    return starts, numbers


def lunar_year(day: dt.date) -> int:
    """The lunar year ``day`` falls in (it begins at the Spring Festival)."""
    return day.year if day >= _lunar_months(day.year)[0][0] else day.year - 1


def lunar_of(birth: dt.date) -> LunarDate:
    """The lunar date of a Gregorian birth date: found among the month starts of its lunar year (computed once per
    year with lunar-python: converting each date with it takes milliseconds, too slow for a million customers)."""
    starts, numbers = _lunar_months(lunar_year(birth))
    k = bisect.bisect_right(starts, birth) - 1
    return LunarDate(month=abs(numbers[k]), day=(birth - starts[k]).days + 1, leap=numbers[k] < 0)


def lunar_birthday(birth: LunarDate, lunar_year: int, *, leap_to_regular: bool = True,
                   day30_to_29: bool = True) -> dt.date | None:
    """The Gregorian day a lunar birthday falls on in ``lunar_year`` (one per lunar year: a Gregorian year can hold
    a lunar date twice or not at all, so birthdays are scheduled by lunar year). A leap-month birth is celebrated
    in that leap month when the year has it, else in the regular month of that number (``leap_to_regular``; off:
    not celebrated that year). Day 30 falls back to 29 in a 29-day month (``day30_to_29``; off: not celebrated)."""
    month = birth.month
    if birth.leap:
        if LunarYear.fromYear(lunar_year).getLeapMonth() == birth.month:
            month = -birth.month
        elif not leap_to_regular:
            return None
    day = birth.day
    days_in_month = LunarMonth.fromYm(lunar_year, month).getDayCount()
    if day > days_in_month:
        if not day30_to_29:
            return None
        day = days_in_month
    solar = Lunar.fromYmd(lunar_year, month, day).getSolar()
    return dt.date(solar.getYear(), solar.getMonth(), solar.getDay())


def lunar_birthdays_on(day: dt.date, *, leap_to_regular: bool = True, day30_to_29: bool = True) -> list[LunarDate]:
    """The lunar birth dates greeted on ``day``: ``day``'s own lunar date, and those that fall back to it (a leap
    month's birth in a year without that leap month; day 30 in a 29-day month)."""
    lunar = Solar.fromYmd(day.year, day.month, day.day).getLunar()
    year, month, d = lunar.getYear(), lunar.getMonth(), lunar.getDay()
    found = [LunarDate(month=abs(month), day=d, leap=month < 0)]
    if month > 0 and leap_to_regular and LunarYear.fromYear(year).getLeapMonth() != month:
        found.append(LunarDate(month=month, day=d, leap=True))
    if day30_to_29 and d == 29 and LunarMonth.fromYm(year, month).getDayCount() == 29:
        found += [LunarDate(month=f.month, day=30, leap=f.leap) for f in list(found)]
    return [f for f in found if lunar_birthday(f, year, leap_to_regular=leap_to_regular,
                                               day30_to_29=day30_to_29) == day]


# ---- festivals ---------------------------------------------------------------------------------------------------

LUNAR_FESTIVALS = {Festival.SPRING: (1, 1), Festival.LANTERN: (1, 15), Festival.DRAGON_BOAT: (5, 5),
                   Festival.MID_AUTUMN: (8, 15)}
SOLAR_FESTIVALS = {Festival.NEW_YEAR: (1, 1), Festival.NATIONAL_DAY: (10, 1)}


def festivals(year: int, bank_dates: Iterable[tuple[str, dt.date]] = ()) -> list[tuple[str, dt.date]]:
    """Every festival of Gregorian ``year`` with its date, in date order: the lunar ones computed (the lunar
    festivals of lunar year ``year`` all fall in Gregorian ``year``), the fixed ones, and the bank's own dates."""
    days = [(str(code), dt.date(year, m, d)) for code, (m, d) in SOLAR_FESTIVALS.items()]
    for code, (m, d) in LUNAR_FESTIVALS.items():
        solar = Lunar.fromYmd(year, m, d).getSolar()
        days.append((str(code), dt.date(solar.getYear(), solar.getMonth(), solar.getDay())))
    days += [(code, day) for code, day in bank_dates if day.year == year]
    return sorted(days, key=lambda item: (item[1], item[0]))


def festivals_on(day: dt.date, bank_dates: Iterable[tuple[str, dt.date]] = ()) -> list[str]:
    return [code for code, when in festivals(day.year, bank_dates) if when == day]


# ---- quiet hours and the frequency cap ------------------------------------------------------------------------------

def next_allowed(now: dt.datetime, *, quiet_start: dt.time = dt.time(21), quiet_end: dt.time = dt.time(8),
                 tz: ZoneInfo = SHANGHAI) -> dt.datetime:
    """``now`` if it is outside quiet hours (local time), else the end of the quiet period (a period may span
    midnight: 21:00–08:00). Returned in ``now``'s time zone."""
    local = now.astimezone(tz)
    t = local.timetz().replace(tzinfo=None)
    if quiet_start == quiet_end:
        return now
    spans_midnight = quiet_start > quiet_end
    quiet = (t >= quiet_start or t < quiet_end) if spans_midnight else quiet_start <= t < quiet_end
    if not quiet:
        return now
    end_day = local.date() + dt.timedelta(days=1) if spans_midnight and t >= quiet_start else local.date()
    end = dt.datetime.combine(end_day, quiet_end, tzinfo=tz)
    return end.astimezone(now.tzinfo)


def cap_window_opens(sent: Sequence[dt.datetime], at: dt.datetime, *, cap: int = 4,
                     window: dt.timedelta = dt.timedelta(days=30)) -> dt.datetime:
    """The earliest instant ≥ ``at`` when one more marketing message fits the cap — fewer than ``cap`` messages in
    the ``window`` before it, ``(t − window, t]`` — given the instants of those sent or scheduled: ``at`` if it
    fits, else the moment enough of them have left the window (the next open window: never dropped, never pushed
    further than that)."""
    if cap <= 0:
        raise ValueError("the cap must allow at least one message")
    times = sorted(sent)
    candidate = at
    while True:
        inside = [t for t in times if candidate - window < t <= candidate]
        if len(inside) < cap:
            return candidate
        candidate = inside[len(inside) - cap] + window  # that message leaves the window then


# ---- consent at send time -------------------------------------------------------------------------------------------

def send_block(*, channel: str, marketing: bool, do_not_contact: bool, consents: dict[str, bool]) -> str:
    """Why a message may not go now ("" when it may): a marketing message needs the customer's consent for its
    channel and no do-not-contact; a service notice (e.g. a complaint update) is not blocked by a marketing opt-out.
    An RM task is the RM's call, not a message: it is never blocked here."""
    if not marketing or channel == "rm_task":
        return ""
    if do_not_contact:
        return "do_not_contact"
    if not consents.get(channel, False):
        return "no_consent"
    return ""


# ---- suitability -------------------------------------------------------------------------------------------------

ASSESSMENT_VALID = dt.timedelta(days=365)
SENIOR_AGE = 65
HIGH_RISK = 4  # R4 and R5 are high-risk products for a senior customer


@dataclass(frozen=True)
class Suitability:
    allowed: bool
    reason: str  # "" when allowed: "no_assessment", "expired", "risk", or "senior_high_risk" (RM task only)
    rm_task_only: bool = False


def age_on(birth: dt.date | None, today: dt.date) -> int | None:
    if birth is None:
        return None
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def suitability(*, customer_risk: str, assessed_on: dt.date | None, product_risk: str, birth: dt.date | None,
                today: dt.date) -> Suitability:
    """Whether a product of risk ``product_risk`` ("R1"…"R5") may be offered to a customer of risk tolerance
    ``customer_risk`` ("C1"…"C5"): Cn permits R1…Rn; the assessment must be under 12 months old; a customer aged
    65 or over is offered a high-risk product (R4, R5) only by their RM in person, never in a bulk message."""
    if not customer_risk or assessed_on is None:
        return Suitability(False, "no_assessment")
    if today - assessed_on > ASSESSMENT_VALID:
        return Suitability(False, "expired")
    if int(product_risk[1:]) > int(customer_risk[1:]):
        return Suitability(False, "risk")
    age = age_on(birth, today)
    if age is not None and age >= SENIOR_AGE and int(product_risk[1:]) >= HIGH_RISK:
        return Suitability(True, "senior_high_risk", rm_task_only=True)
    return Suitability(True, "")


# ---- the control group ---------------------------------------------------------------------------------------------

MAX_CONTROL_SHARE = 0.5


def in_control_group(campaign_id: int, customer_id: int, share: float) -> bool:
    """Whether a customer is held out of a campaign: stable for the pair (a hash, not a draw), about ``share`` of
    customers (0–0.5)."""
    if not 0 <= share <= MAX_CONTROL_SHARE:
        raise ValueError("the control group is 0–50 % of the audience")
    digest = hashlib.blake2b(f"{campaign_id}:{customer_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < share


# ---- templates -----------------------------------------------------------------------------------------------------

VARIABLES = ("name", "surname", "honorific", "rm", "branch")
_FIELD = re.compile(r"\{(\w*)\}")


def template_problems(text: str) -> list[str]:
    """The variables ``text`` uses that are not known (``{name}``, ``{surname}``, ``{honorific}``, ``{rm}``,
    ``{branch}``), and malformed braces as "{"."""
    try:
        names = [field for _lit, field, _spec, _conv in string.Formatter().parse(text) if field is not None]
    except ValueError:
        return ["{"]
    return sorted({n for n in names if n not in VARIABLES})


def honorific(gender: str, language: str = "zh-hans") -> str:
    """先生 / 女士 (Mr / Ms) from the customer's gender; empty when unknown."""
    zh = {"M": "先生", "F": "女士"}
    en = {"M": "Mr", "F": "Ms"}
    return (zh if language.startswith("zh") else en).get(gender, "")


def template_values(*, name: str, gender: str, rm: str, branch: str) -> dict[str, str]:
    """A customer's values of the template variables (the surname: the first character of a Chinese name)."""
    return {"name": name, "surname": name[:1], "honorific": honorific(gender), "rm": rm, "branch": branch}


def render(text: str, values: dict[str, str]) -> str:
    """The message with its variables filled in (every variable must be known: see template_problems)."""
    return text.format(**{k: values.get(k, "") for k in VARIABLES})


OPT_OUT_SMS = "回复T退订"


def with_opt_out(text: str, line: str = OPT_OUT_SMS) -> str:
    """A marketing SMS ends with the opt-out line (once)."""
    return text if text.rstrip().endswith(line) else f"{text.rstrip()} {line}"


# ---- effectiveness -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Uplift:
    treated_rate: float
    control_rate: float
    uplift: float  # treated_rate - control_rate
    low: float  # 95 % confidence interval of the uplift
    high: float


def uplift(treated: int, treated_converted: int, control: int, control_converted: int, *,
           z: float = 1.959964) -> Uplift | None:
    """The difference of conversion rates between the treated and the control group with its 95 % confidence
    interval (Wald, unpooled); None without a control group or treated customers."""
    if treated <= 0 or control <= 0:
        return None
    p1, p0 = treated_converted / treated, control_converted / control
    se = math.sqrt(p1 * (1 - p1) / treated + p0 * (1 - p0) / control)
    diff = p1 - p0
    return Uplift(treated_rate=p1, control_rate=p0, uplift=diff, low=diff - z * se, high=diff + z * se)


# ---- campaigns -----------------------------------------------------------------------------------------------------

AUDIENCE_LISTS = {"value_tier", "card_tier", "lifecycle_stage", "tags", "risk_level"}
AUDIENCE_NUMBERS = {"branch", "rm", "age_min", "age_max", "birthday_month"}
AUDIENCE_TEXTS = {"product_held", "product_not_held"}
CHANNELS = ("sms", "email", "app", "rm_task")


def audience_problems(audience: dict) -> dict[str, str]:
    """Field → what is wrong with a saved audience filter: unknown keys, lists that are not lists of text, numbers
    that are not whole numbers, ages out of order, a month outside 1–12."""
    problems: dict[str, str] = {}
    for key, value in audience.items():
        if key in AUDIENCE_LISTS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems[key] = "list"
        elif key in AUDIENCE_NUMBERS:
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                problems[key] = "number"
        elif key in AUDIENCE_TEXTS:
            if value is not None and not isinstance(value, str):
                problems[key] = "text"
        else:
            problems[key] = "unknown"
    month = audience.get("birthday_month")
    if "birthday_month" not in problems and month is not None and not 1 <= month <= 12:
        problems["birthday_month"] = "month"
    lo, hi = audience.get("age_min"), audience.get("age_max")
    if not problems.keys() & {"age_min", "age_max"} and lo is not None and hi is not None and lo > hi:
        problems["age_max"] = "order"
    return problems


def choose_channel(channels: Sequence[str], consents: dict[str, bool], *, do_not_contact: bool,
                   reachable: dict[str, bool], rm_task_only: bool = False, has_rm: bool = True) -> str | None:
    """The campaign channel a customer is contacted on: an RM task when the offer must go through the RM (or it is
    one of the campaign's channels and the customer has an RM), else the first of the campaign's message channels
    the customer consented to and can be reached on; None: not contacted."""
    if rm_task_only:
        return "rm_task" if has_rm else None
    for channel in channels:
        if channel == "rm_task":
            if has_rm:
                return channel
        elif not do_not_contact and consents.get(channel) and reachable.get(channel):
            return channel
    return None


# ---- event-triggered care ----------------------------------------------------------------------------------------

def tier_raised(before: str, after: str, order: Sequence[str]) -> bool:
    """Whether ``after`` is a higher tier than ``before`` in ``order`` (lowest first). A tier missing on either side
    (unclassified, or not a tier of ``order``: a customer's first tier) is no upgrade, nor is the same tier."""
    if before not in order or after not in order:
        return False
    return order.index(after) > order.index(before)


def maturity_window(today: dt.date, days: int) -> tuple[dt.date, dt.date]:
    """The maturity dates (first, last, both inclusive) the RM is told of on ``today``: from today to ``days``
    days ahead. A holding that matured before today is past telling; one ``days`` + 1 ahead is told tomorrow."""
    if days < 0:
        raise ValueError("days must not be negative")
    return today, today + dt.timedelta(days=days)


def dormancy_window(today: dt.date, days: int, catch_up: int) -> tuple[dt.date, dt.date]:
    """The last-transaction dates (earliest, latest, both inclusive) of customers who turned dormant lately: no
    transaction for ``days`` days or more (the latest is ``today - days``: exactly ``days`` days without one is
    dormant), but for at most ``catch_up`` days longer, so a job that missed some days catches up with them while
    customers dormant long before (segmentation's exit review's business) are not all given a call at once."""
    if days < 0 or catch_up < 0:
        raise ValueError("days must not be negative")
    latest = today - dt.timedelta(days=days)
    return latest - dt.timedelta(days=catch_up), latest
