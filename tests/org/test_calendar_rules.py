"""The working calendar and business time as pure functions (org/rules.py), no database: the 2025 and 2026 State
Council schedules (DOMAIN.md §4) through the chinesecalendar entries, lunch breaks, receipt outside working hours
and on a make-up Saturday, pauses across nights and holidays, a provisional year, Asia/Shanghai dates around UTC
midnight, the regulator's calendar-day count; hypothesis properties."""

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from org import rules
from org.rules import HOLIDAY, SHANGHAI, WORKDAY, BusinessClock, WorkingCalendar, epoch

ENTRIES, COVERED = rules.chinese_calendar_entries()
CAL = WorkingCalendar(entries=ENTRIES, covered=COVERED)
CLOCK = BusinessClock(CAL, dt.date(2024, 12, 1), dt.date(2027, 12, 31))
HOUR = 3600


def at(y, m, d, h=0, mi=0):
    return epoch(dt.datetime(y, m, d, h, mi, tzinfo=SHANGHAI))


def local(seconds):
    return dt.datetime.fromtimestamp(int(seconds), SHANGHAI)


def days(spec):
    """'2025-01-28..2025-02-04' or '2025-01-26' → the dates."""
    first, _, last = spec.partition("..")
    a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last or first)
    return [a + dt.timedelta(days=k) for k in range((b - a).days + 1)]


SCHEDULE = {  # DOMAIN.md §4: the State Council notices
    2025: (["2025-01-01", "2025-01-28..2025-02-04", "2025-04-04..2025-04-06", "2025-05-01..2025-05-05",
            "2025-05-31..2025-06-02", "2025-10-01..2025-10-08"],
           ["2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"]),
    2026: (["2026-01-01..2026-01-03", "2026-02-15..2026-02-23", "2026-04-04..2026-04-06", "2026-05-01..2026-05-05",
            "2026-06-19..2026-06-21", "2026-09-25..2026-09-27", "2026-10-01..2026-10-07"],
           ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"]),
}


@pytest.mark.parametrize("year", [2025, 2026])
def test_every_day_of_2025_and_2026_follows_the_state_council_schedule(year):
    off = {d for spec in SCHEDULE[year][0] for d in days(spec)}
    makeup = {d for spec in SCHEDULE[year][1] for d in days(spec)}
    for d in days(f"{year}-01-01..{year}-12-31"):
        expected = d in makeup or (d.weekday() < 5 and d not in off)
        assert CAL.is_working_day(d) == expected, d
        assert not CAL.provisional(d)
    assert all(CAL.entries[d] == WORKDAY for d in makeup)


def test_the_package_years_are_covered_and_2027_is_provisional():
    assert {2004, 2025, 2026} <= COVERED and 2027 not in COVERED
    assert CAL.provisional(dt.date(2027, 3, 1)) and not CAL.provisional(dt.date(2026, 12, 31))


def test_a_provisional_year_has_the_statutory_days_the_law_fixes_computed():
    holidays = rules.statutory_holidays(2027)
    assert holidays == {
        dt.date(2027, 1, 1): rules.NEW_YEAR,
        dt.date(2027, 2, 5): rules.SPRING_FESTIVAL,  # eve: lunar 12-29 of a short twelfth month
        dt.date(2027, 2, 6): rules.SPRING_FESTIVAL, dt.date(2027, 2, 7): rules.SPRING_FESTIVAL,
        dt.date(2027, 2, 8): rules.SPRING_FESTIVAL,
        dt.date(2027, 4, 5): rules.QINGMING,  # the solar term
        dt.date(2027, 5, 1): rules.LABOUR_DAY, dt.date(2027, 5, 2): rules.LABOUR_DAY,
        dt.date(2027, 6, 9): rules.DRAGON_BOAT, dt.date(2027, 9, 15): rules.MID_AUTUMN,
        dt.date(2027, 10, 1): rules.NATIONAL_DAY, dt.date(2027, 10, 2): rules.NATIONAL_DAY,
        dt.date(2027, 10, 3): rules.NATIONAL_DAY,
    }
    # the law's days agree with the State Council's schedule of a year the package holds
    for year in (2025, 2026):
        off = {d for spec in SCHEDULE[year][0] for d in days(spec)}
        assert set(rules.statutory_holidays(year)) <= off, year
    assert not CAL.is_working_day(dt.date(2027, 2, 8))  # Monday, lunar 1-3
    assert CAL.is_working_day(dt.date(2027, 2, 9))  # Tuesday: no bridge day is guessed
    assert not CAL.is_working_day(dt.date(2027, 2, 13))  # Saturday: no make-up day is guessed


def test_head_office_is_warned_sixty_days_before_the_covered_years_run_out():
    covered = frozenset(range(2004, 2027))
    assert rules.coverage_warning(covered, dt.date(2026, 11, 1)) is None
    assert rules.coverage_warning(covered, dt.date(2026, 11, 2)) == 2027
    assert rules.coverage_warning(covered, dt.date(2027, 3, 1)) == 2027
    assert rules.coverage_warning(covered | {2027}, dt.date(2026, 12, 6)) is None
    assert rules.coverage_warning(frozenset(), dt.date(2026, 12, 6)) == 2026


def test_lunch_break_is_not_business_time():
    assert CLOCK.business_seconds(at(2026, 3, 2, 11), at(2026, 3, 2, 14, 30)) == 2 * HOUR
    assert local(CLOCK.after(at(2026, 3, 2, 11, 30), HOUR)) == local(at(2026, 3, 2, 14))
    assert local(CLOCK.after(at(2026, 3, 2, 11, 30), HOUR // 2)) == local(at(2026, 3, 2, 12))  # on the break's edge


def test_receipt_outside_working_time_starts_at_the_next_working_minute():
    friday_evening = at(2026, 3, 6, 18, 40)
    assert local(CLOCK.next_working(friday_evening)) == local(at(2026, 3, 9, 9))
    assert local(CLOCK.after(friday_evening, HOUR)) == local(at(2026, 3, 9, 10))
    assert local(CLOCK.next_working(at(2026, 3, 2, 12, 10))) == local(at(2026, 3, 2, 13, 30))  # lunch
    assert local(CLOCK.next_working(at(2026, 3, 2, 10))) == local(at(2026, 3, 2, 10))  # already working


def test_a_make_up_saturday_is_worked_and_the_holiday_before_it_is_not():
    assert local(CLOCK.after(at(2026, 2, 14, 8), HOUR // 2)) == local(at(2026, 2, 14, 9, 30))  # Sat, 调休
    # Friday 2026-02-13 16:30 + 3 working hours: 1 h on Friday, 2 h on the make-up Saturday; then the holiday
    assert local(CLOCK.after(at(2026, 2, 13, 16, 30), 3 * HOUR)) == local(at(2026, 2, 14, 11))
    # 8 working hours from Saturday 17:00: half an hour that day, Spring Festival (Feb 15–23) skipped, the 7 hours
    # of Tuesday Feb 24 and the last half hour on Wednesday morning
    assert local(CLOCK.after(at(2026, 2, 14, 17), 8 * HOUR)) == local(at(2026, 2, 25, 9, 30))


def test_the_default_resolution_target_is_ten_working_days():
    # 70 working hours from Monday 09:00 end at the second Friday's close
    assert local(CLOCK.after(at(2026, 3, 2, 9), 70 * HOUR)) == local(at(2026, 3, 13, 17, 30))
    # over National Day 2025 (Oct 1–8, make-up Saturday Oct 11): received Tuesday Sep 30 at 17:00, half an hour
    # that day, then Oct 9, 10, 11 (Saturday), 13–17 and 20 in full (63 h) and 6.5 h of Tuesday Oct 21
    assert local(CLOCK.after(at(2025, 9, 30, 17), 70 * HOUR)) == local(at(2025, 10, 21, 17))


def test_a_pause_across_nights_and_holidays_moves_the_deadline_by_its_business_time():
    received = at(2026, 9, 24, 10)  # Thursday before the Mid-Autumn break (Sep 25–27)
    due = CLOCK.after(received, 70 * HOUR)
    paused_from, paused_to = at(2026, 9, 24, 16), at(2026, 9, 28, 11)  # over the night and the holiday
    held = CLOCK.business_seconds(paused_from, paused_to)
    assert held == int(1.5 * HOUR + 2 * HOUR)  # Thursday 16:00–17:30, Monday 09:00–11:00
    assert CLOCK.business_seconds(due, CLOCK.after(due, held)) == held


def test_asia_shanghai_dates_around_utc_midnight():
    received = dt.datetime(2026, 3, 1, 17, 0, tzinfo=dt.UTC)  # 01:00 on Monday March 2 in Shanghai
    assert CAL.local_date(received) == dt.date(2026, 3, 2)
    assert local(CLOCK.next_working(epoch(received))) == local(at(2026, 3, 2, 9))
    assert rules.regulatory_due(CAL.local_date(received), 15, CAL) == dt.date(2026, 3, 17)
    late = dt.datetime(2026, 3, 2, 15, 59, tzinfo=dt.UTC)  # 23:59 Shanghai: still Monday
    assert CAL.local_date(late) == dt.date(2026, 3, 2)


def test_the_regulatory_deadline_counts_calendar_days_and_rolls_past_days_off():
    # the day of receipt is not counted; 15 days from Sunday Sep 20, 2026 (a make-up day) is Monday Oct 5,
    # inside National Day: the deadline moves to Thursday Oct 8
    assert rules.regulatory_due(dt.date(2026, 9, 20), 15, CAL) == dt.date(2026, 10, 8)
    assert rules.regulatory_due(dt.date(2026, 9, 20), 15, CAL, roll_forward=False) == dt.date(2026, 10, 5)
    assert rules.regulatory_due(dt.date(2026, 3, 2), 15, CAL) == dt.date(2026, 3, 17)
    # a last day on a weekend rolls to Monday; extensions to 30 and 60 days count from receipt the same way
    assert rules.regulatory_due(dt.date(2026, 3, 6), 15, CAL) == dt.date(2026, 3, 23)
    assert rules.regulatory_due(dt.date(2026, 3, 6), 30, CAL) == dt.date(2026, 4, 7)  # Apr 5 is Qingming's break
    # a provisional year rolls past the days the law fixes
    assert rules.regulatory_due(dt.date(2027, 1, 21), 15, CAL) == dt.date(2027, 2, 9)


def test_a_calendar_without_working_hours_has_no_business_time():
    closed = BusinessClock(WorkingCalendar(week=((),) * 7), dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    assert closed.business_seconds(at(2026, 3, 2), at(2026, 3, 20)) == 0
    with pytest.raises(rules.OutOfSpan):
        closed.after(at(2026, 3, 2), HOUR)


def test_instants_outside_the_span_are_refused():
    clock = BusinessClock(CAL, dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    with pytest.raises(rules.OutOfSpan):
        clock.elapsed(at(2026, 4, 2))
    with pytest.raises(rules.OutOfSpan):
        clock.after(at(2026, 3, 30), 100 * HOUR)


def test_a_holiday_entry_wins_over_the_weekday_and_a_workday_entry_over_the_weekend():
    cal = WorkingCalendar(entries={dt.date(2026, 3, 4): HOLIDAY, dt.date(2026, 3, 7): WORKDAY},
                          covered=frozenset({2026}))
    assert not cal.is_working_day(dt.date(2026, 3, 4)) and cal.is_working_day(dt.date(2026, 3, 7))
    assert cal.hours(dt.date(2026, 3, 7)) == rules.DEFAULT_HOURS


def test_bulk_equals_one_at_a_time():
    rng = np.random.default_rng(3)
    starts = rng.integers(at(2025, 1, 1), at(2026, 12, 1), 2000)
    seconds = rng.integers(0, 200 * HOUR, 2000)
    bulk = CLOCK.after(starts, seconds)
    assert [int(CLOCK.after(s, n)) for s, n in zip(starts[:200], seconds[:200], strict=True)] == bulk[:200].tolist()


instants = st.integers(at(2025, 1, 1), at(2026, 12, 31))
durations = st.integers(1, 300 * HOUR)


@settings(max_examples=300, deadline=None)
@given(instants, instants, durations)
def test_a_later_receipt_never_gets_an_earlier_deadline(a, b, seconds):
    a, b = min(a, b), max(a, b)
    assert CLOCK.after(a, seconds) <= CLOCK.after(b, seconds)
    da, db = CAL.local_date(local(a)), CAL.local_date(local(b))
    assert rules.regulatory_due(da, 15, CAL) <= rules.regulatory_due(db, 15, CAL)


@settings(max_examples=300, deadline=None)
@given(instants, durations, durations)
def test_a_pause_of_p_business_seconds_moves_the_deadline_by_exactly_p(received, target, pause):
    due = CLOCK.after(received, target)
    assert CLOCK.business_seconds(received, due) == target
    later = CLOCK.after(received, target + pause)
    assert CLOCK.business_seconds(due, later) == pause
