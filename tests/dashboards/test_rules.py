"""The RM home's birthday window and ages (no database): the days of the window, Feb 29 in common and leap years,
lunar birthdays by the lunar date (not the solar one), and the age turned in Gregorian or lunar years."""

import datetime as dt

from campaigns import rules as care_rules
from dashboards import rules


def test_the_window_is_today_and_the_six_days_after():
    window = rules.birthday_window(dt.date(2026, 6, 10))
    assert (window.first, window.last) == (dt.date(2026, 6, 10), dt.date(2026, 6, 16))
    assert window.celebrated_on(dt.date(1980, 6, 10), lunar=False) == dt.date(2026, 6, 10)
    assert window.celebrated_on(dt.date(1980, 6, 16), lunar=False) == dt.date(2026, 6, 16)
    assert window.celebrated_on(dt.date(1980, 6, 9), lunar=False) is None
    assert window.celebrated_on(dt.date(1980, 6, 17), lunar=False) is None
    assert window.celebrated_on(None, lunar=False) is None


def test_the_window_crosses_the_year_end():
    window = rules.birthday_window(dt.date(2026, 12, 29))
    assert window.celebrated_on(dt.date(1990, 1, 2), lunar=False) == dt.date(2027, 1, 2)
    assert rules.age_turning(dt.date(1990, 1, 2), dt.date(2027, 1, 2), lunar=False) == 37


def test_feb_29_is_celebrated_on_feb_28_in_a_common_year_and_on_feb_29_in_a_leap_year():
    common = rules.birthday_window(dt.date(2027, 2, 25))
    assert common.celebrated_on(dt.date(1992, 2, 29), lunar=False) == dt.date(2027, 2, 28)
    assert common.celebrated_on(dt.date(1992, 2, 28), lunar=False) == dt.date(2027, 2, 28)
    leap = rules.birthday_window(dt.date(2028, 2, 25))
    assert leap.celebrated_on(dt.date(1992, 2, 29), lunar=False) == dt.date(2028, 2, 29)
    assert leap.celebrated_on(dt.date(1992, 2, 28), lunar=False) == dt.date(2028, 2, 28)
    off = rules.birthday_window(dt.date(2027, 2, 25), feb29_on_feb28=False)
    assert off.celebrated_on(dt.date(1992, 2, 29), lunar=False) is None


def test_a_lunar_birthday_follows_the_lunar_date_not_the_solar_one():
    window = rules.birthday_window(dt.date(2027, 2, 25))
    born = dt.date(1975, 3, 4)  # lunar 1975-01-22; lunar 2027-01-22 is 2027-02-27
    assert care_rules.lunar_of(born) == care_rules.LunarDate(month=1, day=22)
    assert window.celebrated_on(born, lunar=True) == dt.date(2027, 2, 27)
    assert window.celebrated_on(born, lunar=False) is None  # its solar date, 03-04, is past the window
    in_solar_only = dt.date(1985, 3, 1)  # lunar 1985-01-10: celebrated 2027-02-15, before the window
    assert window.celebrated_on(in_solar_only, lunar=False) == dt.date(2027, 3, 1)
    assert window.celebrated_on(in_solar_only, lunar=True) is None
    # the day each lunar birthday falls on is the scan's (campaigns.rules.lunar_birthday)
    assert care_rules.lunar_birthday(care_rules.lunar_of(born), 2027) == dt.date(2027, 2, 27)


def test_a_leap_month_birth_falls_back_to_the_regular_month_unless_the_setting_is_off():
    born = dt.date(2023, 3, 22)  # the first day of 2023's leap second month (闰二月)
    lunar = care_rules.lunar_of(born)
    assert lunar.leap and lunar.month == 2
    day = care_rules.lunar_birthday(lunar, 2026)  # 2026 has no leap second month: the regular one, 2-1
    assert day == dt.date(2026, 3, 19)
    window = rules.birthday_window(day - dt.timedelta(days=2))
    assert window.celebrated_on(born, lunar=True) == day
    strict = rules.birthday_window(day - dt.timedelta(days=2), leap_to_regular=False)
    assert strict.celebrated_on(born, lunar=True) is None


def test_the_age_turned_counts_lunar_years_for_a_lunar_birthday():
    assert rules.age_turning(dt.date(1992, 2, 29), dt.date(2027, 2, 28), lunar=False) == 35
    assert rules.age_turning(dt.date(1975, 3, 4), dt.date(2027, 2, 27), lunar=True) == 52
    # born 1990-01-20, before the Spring Festival of 1990 (01-27): lunar year 1989, its lunar birthday of lunar 2026
    # (12-24) falls on 2027-01-31: 37 in lunar years
    born = dt.date(1990, 1, 20)
    day = care_rules.lunar_birthday(care_rules.lunar_of(born), 2026)
    assert day.year == 2027
    assert rules.age_turning(born, day, lunar=True) == 2026 - 1989
