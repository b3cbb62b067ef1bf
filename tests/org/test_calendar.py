"""The working calendar in the database: seeded from chinesecalendar by the migration, per-branch working hours and
days inherited down the branch path, head office's edits (audited, field-level errors, nothing half-written), a
year loaded from a file, the seed command."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from core.errors import NotPermitted, ValidationFailed
from core.models import AuditEvent
from org import rules, selectors, services
from org.constants import AuditAction, CalendarKind, CalendarSource
from org.models import CalendarDay, CalendarYear, WorkingHours
from tests.org.builders import build_org

pytestmark = pytest.mark.django_db
SATURDAY_HOURS = [["09:00", "12:00"]]
WEEK = [[["09:00", "12:00"], ["13:30", "17:30"]]] * 5 + [SATURDAY_HOURS, []]

# The State Council's 2027 schedule is not out yet: a file as head office would write it (kinds in Chinese too).
FILE_2027 = [("2027-01-01", "holiday", "元旦"), ("2027-02-05", "休", "春节"), ("2027-02-06", "休", "春节"),
             ("2027-02-07", "休", "春节"), ("2027-02-08", "休", "春节"), ("2027-02-09", "休", "春节"),
             ("2027-02-10", "休", "春节"), ("2027-02-11", "休", "春节"), ("2027-02-13", "班", "春节"),
             ("2027-10-01", "holiday", "国庆节")]


@pytest.fixture(autouse=True)
def english():
    """Messages in English (the catalogue's Chinese is checked by the i18n tests)."""
    with translation.override("en"):
        yield


@pytest.fixture
def org(db):
    return build_org()


def test_the_migration_seeded_every_year_the_package_holds():
    entries, covered = rules.chinese_calendar_entries()
    assert set(CalendarYear.objects.values_list("year", flat=True)) == set(covered) >= set(range(2004, 2027))
    assert CalendarDay.objects.filter(branch=None).count() == len(entries)
    assert CalendarDay.objects.get(branch=None, day=dt.date(2026, 2, 14)).kind == CalendarKind.WORKDAY
    bank = selectors.working_calendar(None)
    assert not bank.is_working_day(dt.date(2026, 2, 16)) and bank.is_working_day(dt.date(2026, 2, 14))
    assert not bank.provisional(dt.date(2026, 12, 31)) and bank.provisional(dt.date(2027, 1, 4))


def test_hours_and_days_are_inherited_down_the_branch_path(org, django_assert_num_queries):
    services.working_hours_set(branch=org.b1, week=WEEK, actor=org.ho_user)
    services.calendar_day_set(branch=org.b1, day=dt.date(2026, 3, 4), kind=CalendarKind.HOLIDAY, name="分行庆典",
                              actor=org.ho_user)
    services.calendar_day_set(branch=org.b1a, day=dt.date(2026, 2, 21), kind=CalendarKind.WORKDAY, name="值班",
                              actor=org.ho_user)
    with django_assert_num_queries(4):
        outlet = selectors.working_calendar(org.b1a)
    assert outlet.hours(dt.date(2026, 3, 7)) == ((dt.time(9), dt.time(12)),)  # B1's Saturday hours, inherited
    assert not outlet.is_working_day(dt.date(2026, 3, 4))  # B1's own day off
    assert outlet.is_working_day(dt.date(2026, 2, 21))  # its own make-up day inside Spring Festival
    other = selectors.working_calendar(org.b2)
    assert not other.is_working_day(dt.date(2026, 3, 7)) and other.is_working_day(dt.date(2026, 3, 4))
    assert not other.is_working_day(dt.date(2026, 2, 21))
    # an outlet's own hours win over its branch's; cleared, it inherits again
    services.working_hours_set(branch=org.b1a, week=[[["08:30", "17:00"]]] * 7, actor=org.ho_user)
    assert selectors.working_calendar(org.b1a).hours(dt.date(2026, 3, 8)) == ((dt.time(8, 30), dt.time(17)),)
    assert services.working_hours_clear(branch=org.b1a, actor=org.ho_user)
    assert selectors.working_calendar(org.b1a).hours(dt.date(2026, 3, 8)) == ()


@pytest.mark.parametrize("week, message", [
    ([[]] * 6, "Give the working hours of seven days, Monday first."),
    ([[["9:00", "12:00"]]] + [[]] * 6, "Monday: write each time as HH:MM, e.g. 09:00."),
    ([[]] * 2 + [[["12:00", "09:00"]]] + [[]] * 4, "Wednesday: an interval must end after it starts."),
    ([[["09:00", "12:00"], ["11:00", "17:30"]]] + [[]] * 6, "Monday: intervals must be in order and must not overlap."),
    ([[]] * 7, "At least one day needs working hours."),
    ("9 to 5", "Give the working hours of seven days, Monday first."),
])
def test_bad_working_hours_are_refused_beside_the_field(org, week, message):
    with pytest.raises(ValidationFailed) as refused:
        services.working_hours_set(branch=org.b1, week=week, actor=org.ho_user)
    assert refused.value.fields == {"week": [message]}
    assert not WorkingHours.objects.exists()


def test_only_head_office_changes_the_calendar(org):
    for who in (org.sup_b1, org.rm, org.co_b1):
        with pytest.raises(NotPermitted):
            services.working_hours_set(branch=org.b1, week=WEEK, actor=who)
        with pytest.raises(NotPermitted):
            services.calendar_day_set(day=dt.date(2026, 3, 4), kind=CalendarKind.HOLIDAY, actor=who)
        with pytest.raises(NotPermitted):
            services.calendar_year_load(year=2027, rows=FILE_2027, actor=who)
    assert not WorkingHours.objects.exists() and not CalendarYear.objects.filter(year=2027).exists()


def test_a_day_is_set_changed_and_removed_with_an_audit_trail(org):
    day = dt.date(2026, 12, 31)
    services.calendar_day_set(day=day, kind=CalendarKind.HOLIDAY, name="年终决算", actor=org.ho_user)
    services.calendar_day_set(day=day, kind=CalendarKind.HOLIDAY, name="年终决算", actor=org.ho_user)  # no change
    assert not selectors.working_calendar(org.b2).is_working_day(day)
    assert services.calendar_day_remove(day=day, actor=org.ho_user)
    assert not services.calendar_day_remove(day=day, actor=org.ho_user)
    assert selectors.working_calendar(org.b2).is_working_day(day)
    events = list(AuditEvent.objects.filter(type__in=[AuditAction.CALENDAR_DAY_SET, AuditAction.CALENDAR_DAY_REMOVED])
                  .order_by("id").values_list("type", flat=True))
    assert events == [AuditAction.CALENDAR_DAY_SET, AuditAction.CALENDAR_DAY_REMOVED]


def test_a_make_up_working_day_on_a_weekday_is_refused(org):
    with pytest.raises(ValidationFailed) as refused:
        services.calendar_day_set(day=dt.date(2026, 3, 4), kind=CalendarKind.WORKDAY, actor=org.ho_user)
    assert list(refused.value.fields) == ["kind"]
    with pytest.raises(ValidationFailed) as refused:
        services.calendar_day_set(day=dt.date(2026, 3, 7), kind="weekend", actor=org.ho_user)
    assert list(refused.value.fields) == ["kind"]
    assert not CalendarDay.objects.filter(day__in=[dt.date(2026, 3, 4), dt.date(2026, 3, 7)]).exists()


def test_a_year_loaded_from_a_file_is_no_longer_provisional(org):
    services.calendar_day_set(branch=org.b1, day=dt.date(2027, 3, 1), kind=CalendarKind.HOLIDAY, actor=org.ho_user)
    before = selectors.working_calendar(org.b1)
    assert before.provisional(dt.date(2027, 2, 10)) and before.is_working_day(dt.date(2027, 2, 10))
    counts = services.calendar_year_load(year=2027, rows=FILE_2027, actor=org.ho_user)
    assert counts == {"year": 2027, "days_off": 9, "workdays": 1, "added": 10, "removed": 0}
    after = selectors.working_calendar(org.b1)
    assert not after.provisional(dt.date(2027, 2, 10)) and not after.is_working_day(dt.date(2027, 2, 10))
    assert after.is_working_day(dt.date(2027, 2, 13))  # the make-up Saturday
    assert after.is_working_day(dt.date(2027, 4, 5))  # Qingming is not in this (partial) file: no longer guessed
    assert not after.is_working_day(dt.date(2027, 3, 1))  # the branch's own day stays
    assert CalendarYear.objects.get(year=2027).source == CalendarSource.IMPORT
    # loaded again with one day fewer: the year's bank-wide days are replaced, not added to
    again = services.calendar_year_load(year=2027, rows=FILE_2027[:-1], actor=org.ho_user)
    assert (again["added"], again["removed"]) == (0, 1)
    assert CalendarDay.objects.filter(branch=None, day__year=2027).count() == 9


@pytest.mark.parametrize("bad_row, message", [
    (("2027-02-30", "休", ""), "Row 11: the date is not a date of the calendar (YYYY-MM-DD)."),
    (("2027-02-05", "休", "春节"), "Row 11: the date is listed twice."),
    (("2028-01-01", "休", ""), "Row 11: the date is not in 2027."),
    (("2027-03-01", "off", ""), "Row 11: the kind must be holiday or workday (休 or 班)."),
    (("2027-03-03", "班", ""), "Row 11: a make-up working day must be a Saturday or a Sunday."),
])
def test_a_bad_file_is_refused_row_by_row_and_changes_nothing(org, bad_row, message):
    services.calendar_year_load(year=2027, rows=FILE_2027[:3], actor=org.ho_user)
    with pytest.raises(ValidationFailed) as refused:
        services.calendar_year_load(year=2027, rows=[*FILE_2027, bad_row], actor=org.ho_user)
    assert refused.value.fields == {"file": [message]}
    assert CalendarDay.objects.filter(branch=None, day__year=2027).count() == 3


def test_an_empty_file_or_an_absurd_year_is_refused(org):
    with pytest.raises(ValidationFailed) as refused:
        services.calendar_year_load(year=2027, rows=[], actor=org.ho_user)
    assert list(refused.value.fields) == ["file"]
    with pytest.raises(ValidationFailed) as refused:
        services.calendar_year_load(year=20270, rows=FILE_2027, actor=org.ho_user)
    assert list(refused.value.fields) == ["year"]


def test_the_seed_restores_a_package_year(org):
    services.calendar_day_remove(day=dt.date(2026, 2, 16), actor=org.ho_user)
    services.calendar_day_set(day=dt.date(2026, 3, 10), kind=CalendarKind.HOLIDAY, actor=org.ho_user)
    [counts] = services.calendar_seed(years=[2026])
    assert (counts["added"], counts["removed"]) == (1, 1)
    bank = selectors.working_calendar(None)
    assert not bank.is_working_day(dt.date(2026, 2, 16)) and bank.is_working_day(dt.date(2026, 3, 10))
    assert services.calendar_seed(years=[2031]) == []


def test_the_command_seeds_and_loads_a_file(org, tmp_path):
    out = StringIO()
    call_command("seed_calendar", "--year", "2025", stdout=out)
    assert out.getvalue().startswith("2025: ")
    good = tmp_path / "2027.csv"
    good.write_text("日期,类型,名称\n" + "\n".join(",".join(row) for row in FILE_2027) + "\n", encoding="utf-8-sig")
    out = StringIO()
    call_command("seed_calendar", "--file", str(good), "--year", "2027", stdout=out)
    assert "2027: 9 days off, 1 make-up working days" in out.getvalue()
    bad = tmp_path / "bad.csv"
    bad.write_text("2027-13-01,休,\n", encoding="utf-8")
    with pytest.raises(CommandError, match="Row 1: the date is not a date"):
        call_command("seed_calendar", "--file", str(bad), "--year", "2027")
    with pytest.raises(CommandError, match="exactly one --year"):
        call_command("seed_calendar", "--file", str(good))
