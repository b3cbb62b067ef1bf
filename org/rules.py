"""Pure rules of the organisation: the working calendar and business time (DOMAIN.md §4).

A branch's working calendar is its working hours per weekday (with a lunch break) plus per-date entries: a
statutory day off (``HOLIDAY``) or a make-up working day (``WORKDAY``, 调休: a Saturday or Sunday worked). The
entries come from a table head office edits, seeded from the ``chinesecalendar`` package for the years it holds.
A year the table does not hold is *provisional*: Monday–Friday minus the statutory days the law itself fixes
(《全国年节及纪念日放假办法》 as revised in 2024), with the lunar dates and the Qingming solar term computed by
``lunar_python``, never typed in per year. The State Council's schedule adds bridge days and make-up days each
year; the provisional calendar cannot know them, so every figure computed on it says so.

``BusinessClock`` lays a calendar's working intervals over a span of days as epoch seconds with their running
total: business time between two instants and the instant a number of business seconds after another are two
binary searches, for one complaint or for a million at once (numpy arrays in, arrays out). Hand-written because
no maintained library counts business time with lunch breaks and per-date make-up working days (``businesstimedelta``
and ``workalendar`` know neither 调休 nor a table head office edits).

No ORM, no settings: callers pass the calendar, the time zone and ``now`` / ``today``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

HOLIDAY, WORKDAY = "holiday", "workday"  # per-date entries
Hours = tuple[tuple[dt.time, dt.time], ...]  # working intervals of one day, local time, in order

DEFAULT_HOURS: Hours = ((dt.time(9, 0), dt.time(12, 0)), (dt.time(13, 30), dt.time(17, 30)))
DEFAULT_WEEK: tuple[Hours, ...] = (DEFAULT_HOURS,) * 5 + ((), ())  # Monday … Sunday
SHANGHAI = ZoneInfo("Asia/Shanghai")
WARN_DAYS = 60  # head office is warned this many days before the covered years run out

# The statutory days off that the law fixes (《全国年节及纪念日放假办法》, revised 2024-11): codes for people to
# read through the pages' labels.
NEW_YEAR, SPRING_FESTIVAL, QINGMING, LABOUR_DAY, DRAGON_BOAT, MID_AUTUMN, NATIONAL_DAY = (
    "new_year", "spring_festival", "qingming", "labour_day", "dragon_boat", "mid_autumn", "national_day")


@functools.cache
def statutory_holidays(year: int) -> dict[dt.date, str]:
    """The days off the law fixes in ``year`` (no bridge days, no make-up days: the State Council adds those each
    year): New Year's Day; Spring Festival eve (the last day of the twelfth lunar month, the 29th or the 30th) and
    lunar 1-1 to 1-3; Qingming (the solar term); May 1–2; Dragon Boat (lunar 5-5); Mid-Autumn (lunar 8-15);
    October 1–3."""
    from lunar_python import Lunar  # pure Python, no I/O

    def solar(lunar_month: int, lunar_day: int) -> dt.date:
        s = Lunar.fromYmd(year, lunar_month, lunar_day).getSolar()
        return dt.date(s.getYear(), s.getMonth(), s.getDay())

    new_year = solar(1, 1)
    qingming = Lunar.fromYmd(year, 1, 1).getJieQiTable()["清明"]
    days = {dt.date(year, 1, 1): NEW_YEAR, new_year - dt.timedelta(days=1): SPRING_FESTIVAL,
            dt.date(qingming.getYear(), qingming.getMonth(), qingming.getDay()): QINGMING,
            dt.date(year, 5, 1): LABOUR_DAY, dt.date(year, 5, 2): LABOUR_DAY,
            solar(5, 5): DRAGON_BOAT, solar(8, 15): MID_AUTUMN}
    for k in range(3):
        days[new_year + dt.timedelta(days=k)] = SPRING_FESTIVAL
        days[dt.date(year, 10, 1 + k)] = NATIONAL_DAY
    return days


def chinese_calendar_entries() -> tuple[dict[dt.date, str], frozenset[int]]:
    """The ``chinesecalendar`` package's days off and make-up working days as entries, and the years it holds
    (whole years: the first to the last year of its holidays)."""
    import chinese_calendar

    entries = dict.fromkeys(chinese_calendar.holidays, HOLIDAY)
    entries.update(dict.fromkeys(chinese_calendar.workdays, WORKDAY))
    years = range(min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year + 1)
    return entries, frozenset(years)


def chinese_calendar_names() -> dict[dt.date, str]:
    """The ``chinesecalendar`` package's name of each of its days ("Spring Festival")."""
    import chinese_calendar

    return {**chinese_calendar.holidays, **chinese_calendar.workdays}


@dataclass(frozen=True)
class WorkingCalendar:
    """A branch's working calendar. ``week``: working hours Monday … Sunday; ``entries``: per-date days off and
    make-up working days; ``covered``: the years the entries are complete for (others are provisional). A make-up
    working day on a day without hours of its own is worked with Monday's hours."""

    week: tuple[Hours, ...] = DEFAULT_WEEK
    entries: Mapping[dt.date, str] = field(default_factory=dict)
    covered: frozenset[int] = frozenset()
    tz: ZoneInfo = SHANGHAI

    def provisional(self, day: dt.date) -> bool:
        return day.year not in self.covered

    def hours(self, day: dt.date) -> Hours:
        kind = self.entries.get(day)
        if kind == HOLIDAY:
            return ()
        if kind == WORKDAY:
            return self.week[day.weekday()] or self.week[0]
        if self.provisional(day) and day in statutory_holidays(day.year):
            return ()
        return self.week[day.weekday()]

    def is_working_day(self, day: dt.date) -> bool:
        return bool(self.hours(day))

    def local_date(self, moment: dt.datetime) -> dt.date:
        """The calendar's date of an aware instant (a complaint received at 01:00 Shanghai, 17:00 UTC the day
        before, was received on the Shanghai date)."""
        return moment.astimezone(self.tz).date()


# ---- checks of what head office enters -------------------------------------------------------------------------

WEEK_SHAPE = "week_shape"
BAD_TIME = "bad_time"
EMPTY_INTERVAL = "empty_interval"
OVERLAP = "overlap"
NO_HOURS = "no_hours"


def parse_week(week) -> tuple[tuple[Hours, ...], list[tuple[int, str]]]:
    """Working hours as stored (seven lists, Monday first, of ["HH:MM", "HH:MM"]) → (the week, problems). Problems
    are (weekday or -1 for the whole week, code): not seven days, a time that is not HH:MM, an interval that ends
    before it starts, intervals out of order or overlapping, no working hours in the whole week."""
    if not isinstance(week, list | tuple) or len(week) != 7:
        return DEFAULT_WEEK, [(-1, WEEK_SHAPE)]
    days, problems = [], []
    for weekday, intervals in enumerate(week):
        hours = []
        for pair in intervals if isinstance(intervals, list | tuple) else [None]:
            try:
                start, end = (dt.time.fromisoformat(v) for v in pair)
                if len(pair) != 2 or any(len(v) != 5 for v in pair):
                    raise ValueError
            except (TypeError, ValueError):
                problems.append((weekday, BAD_TIME))
                continue
            if end <= start:
                problems.append((weekday, EMPTY_INTERVAL))
            elif hours and start < hours[-1][1]:
                problems.append((weekday, OVERLAP))
            else:
                hours.append((start, end))
        days.append(tuple(hours))
    if not problems and not any(days):
        problems.append((-1, NO_HOURS))
    return tuple(days), problems


def format_week(week: tuple[Hours, ...]) -> list[list[list[str]]]:
    return [[[a.strftime("%H:%M"), b.strftime("%H:%M")] for a, b in day] for day in week]


BAD_DATE = "bad_date"
BAD_KIND = "bad_kind"
OTHER_YEAR = "other_year"
DUPLICATE = "duplicate"
WEEKDAY_WORKDAY = "weekday_workday"
KINDS = {"holiday": HOLIDAY, "workday": WORKDAY, "休": HOLIDAY, "班": WORKDAY, "假": HOLIDAY}


def year_entries(year: int, rows) -> tuple[dict[dt.date, tuple[str, str]], list[tuple[int, str, str]]]:
    """The rows of a calendar file for ``year`` (each: date as YYYY-MM-DD, kind — holiday / workday or 休 / 班 —,
    optional name) → ({date: (kind, name)}, problems as (row number from 1, column, code)): a date that does not
    exist, a kind that is neither, a date of another year, a date listed twice, a make-up working day on Monday to
    Friday (those are working days already)."""
    entries, problems = {}, []
    for number, row in enumerate(rows, start=1):
        raw_day, raw_kind, name = (list(row) + ["", "", ""])[:3]
        try:
            day = dt.date.fromisoformat(str(raw_day).strip())
        except ValueError:
            problems.append((number, "date", BAD_DATE))
            continue
        kind = KINDS.get(str(raw_kind).strip().lower())
        if kind is None:
            problems.append((number, "kind", BAD_KIND))
        elif day.year != year:
            problems.append((number, "date", OTHER_YEAR))
        elif day in entries:
            problems.append((number, "date", DUPLICATE))
        elif kind == WORKDAY and day.weekday() < 5:
            problems.append((number, "kind", WEEKDAY_WORKDAY))
        else:
            entries[day] = (kind, str(name).strip()[:60])
    return entries, problems


def calendar_rows(text: str) -> list[list[str]]:
    """The rows of a calendar CSV file's text (blank lines and a header row "date" / "日期" left out)."""
    import csv
    import io

    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if rows and rows[0] and rows[0][0].strip().lstrip("\ufeff").lower() in ("date", "日期"):
        rows = rows[1:]
    return rows


def coverage_warning(covered: frozenset[int], today: dt.date, *, days: int = WARN_DAYS) -> int | None:
    """The first year from ``today`` on that the calendar does not hold, when ``today`` is within ``days`` of its
    start or already in it: head office should enter the State Council's schedule for it. None otherwise."""
    year = today.year
    while year in covered:
        year += 1
    return year if today >= dt.date(year, 1, 1) - dt.timedelta(days=days) else None


def regulatory_due(received: dt.date, days: int, calendar: WorkingCalendar, *, roll_forward: bool = True) -> dt.date:
    """The last day of a regulatory period of ``days`` calendar days from ``received`` (the Civil Code's count: the
    day of receipt is not counted, the period ends at 24:00 of its last day); a last day that is not a working day
    moves to the next working day when ``roll_forward``."""
    due = received + dt.timedelta(days=days)
    while roll_forward and not calendar.is_working_day(due):
        due += dt.timedelta(days=1)
    return due


def epoch(moment: dt.datetime) -> int:
    """Seconds since 1970 of an aware instant."""
    return int(moment.timestamp())


class OutOfSpan(ValueError):
    """An instant or a deadline outside the days a ``BusinessClock`` was built for."""


class BusinessClock:
    """The working intervals of ``calendar`` from ``first`` to ``last`` (local dates, inclusive), as epoch seconds,
    with the business seconds before each interval. ``elapsed(t)``: business seconds from the span's start to
    ``t``; ``business_seconds(a, b)`` = elapsed(b) − elapsed(a); ``after(t, s)``: the first instant by which ``s``
    business seconds have passed since ``t`` (so a complaint received outside working time starts at the next
    working minute, and a deadline that falls on the end of a working interval is that end, not the next
    morning). Every method takes a scalar or a numpy array of epoch seconds."""

    def __init__(self, calendar: WorkingCalendar, first: dt.date, last: dt.date):
        starts, ends = [], []
        day = first
        while day <= last:
            for start, end in calendar.hours(day):
                starts.append(epoch(dt.datetime.combine(day, start, tzinfo=calendar.tz)))
                ends.append(epoch(dt.datetime.combine(day, end, tzinfo=calendar.tz)))
            day += dt.timedelta(days=1)
        self.calendar, self.first, self.last = calendar, first, last
        self.starts = np.asarray(starts, dtype=np.int64)
        self.ends = np.asarray(ends, dtype=np.int64)
        self.before = np.r_[0, np.cumsum(self.ends - self.starts)].astype(np.int64)  # business seconds before k
        self.span = (epoch(dt.datetime.combine(first, dt.time.min, tzinfo=calendar.tz)),
                     epoch(dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=calendar.tz)))

    def _check(self, t) -> np.ndarray:
        t = np.asarray(t, dtype=np.int64)
        if t.size and (t.min() < self.span[0] or t.max() > self.span[1]):
            raise OutOfSpan(f"outside {self.first}–{self.last}")
        return t

    def elapsed(self, t):
        t = self._check(t)
        n = len(self.starts)
        if not n:
            return np.zeros_like(t)
        k = np.searchsorted(self.ends, t, side="right")  # intervals ended by t; interval k ends after t
        inside = np.where(k < n, np.clip(t - self.starts[np.minimum(k, n - 1)], 0, None), 0)
        return self.before[k] + inside

    def business_seconds(self, a, b):
        return self.elapsed(b) - self.elapsed(a)

    def after(self, t, seconds):
        seconds = np.asarray(seconds, dtype=np.int64)
        target = self.elapsed(t) + seconds
        # the interval in which the target-th business second falls: for a deadline (seconds > 0) the first
        # interval whose end reaches it (a deadline on an interval's end is that end); for the start of a clock
        # (0 seconds) the first interval that has a second left after it (the next working minute)
        k = np.where(seconds > 0, np.searchsorted(self.before[1:], target, side="left"),
                     np.searchsorted(self.before[1:], target, side="right"))
        if k.size and k.max() >= len(self.starts):
            raise OutOfSpan(f"a deadline after {self.last}")
        return self.starts[k] + (target - self.before[k])

    def next_working(self, t):
        """The next working instant at or after ``t``."""
        return self.after(t, 0)
