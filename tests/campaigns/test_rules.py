"""The date and delivery rules of care campaigns as pure functions: Feb 29, lunar birthdays (leap months, day 30,
one per lunar year), festivals 2025–2027, the Shanghai date around UTC midnight, quiet hours across midnight, the
frequency cap's next window, suitability, the stable control group, templates, uplift."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns import rules
from campaigns.rules import LunarDate

UTC, SH = dt.UTC, ZoneInfo("Asia/Shanghai")
D = dt.date


def test_the_customer_day_is_the_shanghai_date():
    assert rules.local_date(dt.datetime(2026, 3, 4, 16, 29, tzinfo=UTC)) == D(2026, 3, 5)  # 00:29 in Shanghai
    assert rules.local_date(dt.datetime(2026, 3, 4, 15, 59, tzinfo=UTC)) == D(2026, 3, 4)  # 23:59 in Shanghai
    with pytest.raises(ValueError):
        rules.local_date(dt.datetime(2026, 3, 4, 12))


def test_feb_29_is_greeted_on_feb_28_in_common_years():
    born = D(1992, 2, 29)
    assert rules.solar_birthday(born, 2026) == D(2026, 2, 28)
    assert rules.solar_birthday(born, 2028) == D(2028, 2, 29)
    assert rules.solar_birthday(born, 2026, feb29_on_feb28=False) is None
    assert rules.solar_birthdays_on(D(2026, 2, 28)) == [(2, 28), (2, 29)]
    assert rules.solar_birthdays_on(D(2028, 2, 28)) == [(2, 28)]
    assert rules.solar_birthdays_on(D(2028, 2, 29)) == [(2, 29)]
    assert rules.solar_birthdays_on(D(2026, 2, 28), feb29_on_feb28=False) == [(2, 28)]


def test_a_lunar_birthday_follows_the_lunar_calendar():
    born = rules.lunar_of(D(1990, 7, 1))  # lunar 1990 闰五月初九
    assert born == LunarDate(month=5, day=9, leap=True)
    assert rules.lunar_birthday(LunarDate(8, 15), 2026) == D(2026, 9, 25)  # Mid-Autumn day
    assert rules.lunar_birthday(LunarDate(1, 1), 2026) == D(2026, 2, 17)


def test_a_leap_month_birth_is_greeted_in_the_regular_month_when_the_year_has_no_such_leap_month():
    born = rules.lunar_of(D(2025, 7, 25))  # 2025 has a leap sixth month: 闰六月初一
    assert born == LunarDate(month=6, day=1, leap=True)
    assert rules.lunar_birthday(born, 2025) == D(2025, 7, 25)
    assert rules.lunar_birthday(born, 2026) == rules.lunar_birthday(LunarDate(6, 1), 2026) == D(2026, 7, 14)
    assert rules.lunar_birthday(born, 2026, leap_to_regular=False) is None
    assert born in rules.lunar_birthdays_on(D(2026, 7, 14))
    assert born not in rules.lunar_birthdays_on(D(2026, 7, 14), leap_to_regular=False)


def test_day_30_falls_back_to_29_in_a_short_month():
    born = LunarDate(month=12, day=30)
    day = rules.lunar_birthday(born, 2026)  # the twelfth month of lunar 2026 has 29 days
    assert day == rules.lunar_birthday(LunarDate(12, 29), 2026)
    assert born in rules.lunar_birthdays_on(day)
    assert rules.lunar_birthday(born, 2026, day30_to_29=False) is None
    assert born not in rules.lunar_birthdays_on(day, day30_to_29=False)


def test_lunar_birthdays_are_scheduled_by_lunar_year():
    # lunar 11-20 falls in January of the next Gregorian year in some lunar years and in December in others:
    # per lunar year it is always exactly once
    born = LunarDate(11, 20)
    days = [rules.lunar_birthday(born, y) for y in range(2024, 2030)]
    assert len(set(days)) == 6 and all(d is not None for d in days)
    by_gregorian_year = {y: [d for d in days if d.year == y] for y in range(2024, 2031)}
    assert any(len(v) != 1 for v in by_gregorian_year.values())  # some Gregorian year has it twice or never


@settings(max_examples=150, deadline=None)
@given(day=st.dates(dt.date(1902, 1, 1), dt.date(2099, 12, 31)))
def test_the_lunar_year_begins_at_the_spring_festival_as_lunar_python_says(day):
    from lunar_python import Solar

    assert rules.lunar_year(day) == Solar.fromYmd(day.year, day.month, day.day).getLunar().getYear()


@given(month=st.integers(1, 12), day=st.integers(1, 30), leap=st.booleans(), year=st.integers(2000, 2040))
def test_a_scan_of_each_day_finds_every_lunar_birthday_exactly_on_its_day(month, day, leap, year):
    born = LunarDate(month, day, leap)
    when = rules.lunar_birthday(born, year)
    assert when is not None
    assert born in rules.lunar_birthdays_on(when)
    assert born not in rules.lunar_birthdays_on(when + dt.timedelta(days=1))


@pytest.mark.parametrize(("year", "expected"), [
    (2025, {"spring": D(2025, 1, 29), "lantern": D(2025, 2, 12), "dragon_boat": D(2025, 5, 31),
            "mid_autumn": D(2025, 10, 6)}),
    (2026, {"spring": D(2026, 2, 17), "lantern": D(2026, 3, 3), "dragon_boat": D(2026, 6, 19),
            "mid_autumn": D(2026, 9, 25)}),
    (2027, {"spring": D(2027, 2, 6), "lantern": D(2027, 2, 20), "dragon_boat": D(2027, 6, 9),
            "mid_autumn": D(2027, 9, 15)}),
])
def test_festivals_are_computed_per_year(year, expected):
    days = dict(rules.festivals(year, bank_dates=[("anniversary", D(year, 8, 8))]))
    assert {k: days[k] for k in expected} == expected
    assert days["new_year"] == D(year, 1, 1) and days["national_day"] == D(year, 10, 1)
    assert days["anniversary"] == D(year, 8, 8)
    assert rules.festivals_on(expected["mid_autumn"]) == ["mid_autumn"]


def test_quiet_hours_span_midnight():
    at = lambda h, m=0, day=5: dt.datetime(2026, 3, day, h, m, tzinfo=SH)
    assert rules.next_allowed(at(20, 59)) == at(20, 59)
    assert rules.next_allowed(at(21, 0)) == at(8, 0, day=6)
    assert rules.next_allowed(at(23, 30)) == at(8, 0, day=6)
    assert rules.next_allowed(at(3, 0)) == at(8, 0)
    assert rules.next_allowed(at(8, 0)) == at(8, 0)
    # in UTC: 13:30 UTC is 21:30 in Shanghai; the answer keeps the caller's zone
    late = dt.datetime(2026, 3, 5, 13, 30, tzinfo=UTC)
    assert rules.next_allowed(late) == dt.datetime(2026, 3, 6, 0, 0, tzinfo=UTC)
    # a window within one day
    assert rules.next_allowed(at(12, 30), quiet_start=dt.time(12), quiet_end=dt.time(14)) == at(14)


def test_an_over_cap_message_moves_to_the_next_open_window():
    day = lambda d: dt.datetime(2026, 3, d, 10, tzinfo=SH)
    sent = [day(1), day(5), day(10), day(20)]
    assert rules.cap_window_opens(sent, day(25)) == day(1) + dt.timedelta(days=30)  # 31 March, 10:00
    assert rules.cap_window_opens(sent[:3], day(25)) == day(25)  # three in the window: it fits
    assert rules.cap_window_opens(sent, day(25), cap=5) == day(25)
    # a message already scheduled in the next window pushes one more window along, and no further
    later = [*sent, day(1) + dt.timedelta(days=30)]
    assert rules.cap_window_opens(later, day(25)) == day(5) + dt.timedelta(days=30)
    with pytest.raises(ValueError):
        rules.cap_window_opens(sent, day(25), cap=0)


@settings(max_examples=100, deadline=None)
@given(offsets=st.lists(st.integers(0, 90 * 24), max_size=12), start=st.integers(0, 90 * 24), cap=st.integers(1, 5))
def test_the_window_found_holds_fewer_than_the_cap_and_none_earlier_does(offsets, start, cap):
    base = dt.datetime(2026, 1, 1, tzinfo=UTC)
    sent = [base + dt.timedelta(hours=h) for h in offsets]
    at = base + dt.timedelta(hours=start)
    found = rules.cap_window_opens(sent, at, cap=cap)
    window = dt.timedelta(days=30)
    count = lambda t: sum(1 for s in sent if t - window < s <= t)
    assert found >= at and count(found) < cap
    for h in range(start, int((found - base).total_seconds() // 3600)):
        assert count(base + dt.timedelta(hours=h)) >= cap  # nothing earlier had room (hourly grid)


def test_suitability():
    today = D(2026, 6, 1)
    ok = {"customer_risk": "C3", "assessed_on": D(2026, 1, 1), "birth": D(1980, 1, 1), "today": today}
    assert rules.suitability(product_risk="R3", **ok).allowed
    assert rules.suitability(product_risk="R4", **ok).reason == "risk"
    assert rules.suitability(product_risk="R2", **{**ok, "assessed_on": D(2025, 5, 31)}).reason == "expired"
    assert rules.suitability(product_risk="R1", **{**ok, "customer_risk": ""}).reason == "no_assessment"
    senior = rules.suitability(product_risk="R4", **{**ok, "customer_risk": "C5", "birth": D(1961, 5, 31)})
    assert senior.allowed and senior.rm_task_only  # 65 yesterday
    young = rules.suitability(product_risk="R4", **{**ok, "customer_risk": "C5", "birth": D(1961, 6, 2)})
    assert young.allowed and not young.rm_task_only  # 64 until tomorrow


def test_the_control_group_is_stable_and_about_its_share():
    held = [c for c in range(20_000) if rules.in_control_group(7, c, 0.2)]
    assert 0.19 < len(held) / 20_000 < 0.21
    assert held == [c for c in range(20_000) if rules.in_control_group(7, c, 0.2)]
    assert held != [c for c in range(20_000) if rules.in_control_group(8, c, 0.2)]
    assert not any(rules.in_control_group(7, c, 0) for c in range(1000))
    with pytest.raises(ValueError):
        rules.in_control_group(7, 1, 0.6)


def test_templates_know_their_variables():
    assert rules.template_problems("{surname}{honorific}，祝您生日快乐！您的客户经理{rm}") == []
    assert rules.template_problems("{name}您好{coupon}") == ["coupon"]
    assert rules.template_problems("您好{") == ["{"]
    text = rules.render("{surname}{honorific}您好", {"surname": "张", "honorific": rules.honorific("M")})
    assert text == "张先生您好"
    assert rules.honorific("F", "en") == "Ms" and rules.honorific("") == ""
    assert rules.with_opt_out("新品上市") == "新品上市 回复T退订"
    assert rules.with_opt_out("新品上市 回复T退订") == "新品上市 回复T退订"


def test_uplift_with_its_confidence_interval():
    result = rules.uplift(1000, 120, 250, 20)
    assert result.treated_rate == 0.12 and result.control_rate == 0.08
    assert result.uplift == pytest.approx(0.04)
    assert result.low == pytest.approx(0.04 - 1.959964 * ((0.12 * 0.88 / 1000 + 0.08 * 0.92 / 250) ** 0.5))
    assert result.low < 0.04 < result.high
    assert rules.uplift(1000, 120, 0, 0) is None


@settings(max_examples=300, deadline=None)
@given(day=st.dates(min_value=D(1901, 3, 1), max_value=D(2099, 12, 31)))
def test_the_fast_lunar_conversion_agrees_with_lunar_python(day):
    from lunar_python import Solar

    lunar = Solar.fromYmd(day.year, day.month, day.day).getLunar()
    assert rules.lunar_of(day) == LunarDate(abs(lunar.getMonth()), lunar.getDay(), lunar.getMonth() < 0)


# ---- event-triggered care ----

VALUE_LOW_FIRST = ("small", "ordinary", "secondary", "important")


@pytest.mark.parametrize("before, after, raised", [
    ("small", "ordinary", True),
    ("secondary", "important", True),
    ("small", "important", True),  # more than one step
    ("ordinary", "ordinary", False),  # the same tier
    ("important", "secondary", False),  # a downgrade
    ("", "important", False),  # unclassified before: a first tier
    ("ordinary", "", False),  # unclassified now
    ("platinum", "important", False),  # not a tier of this order
])
def test_an_upgrade_is_a_higher_tier_in_the_order(before, after, raised):
    assert rules.tier_raised(before, after, VALUE_LOW_FIRST) is raised


def test_the_maturity_window_holds_today_to_n_days_ahead():
    first, last = rules.maturity_window(D(2026, 3, 2), 14)
    assert (first, last) == (D(2026, 3, 2), D(2026, 3, 16))  # exactly 14 days out: in; 15: tomorrow
    assert rules.maturity_window(D(2026, 12, 25), 14)[1] == D(2027, 1, 8)  # across the year's end
    assert rules.maturity_window(D(2026, 3, 2), 0) == (D(2026, 3, 2), D(2026, 3, 2))
    with pytest.raises(ValueError):
        rules.maturity_window(D(2026, 3, 2), -1)


def test_the_dormancy_window_starts_at_exactly_n_days_and_catches_up_for_a_while():
    first, last = rules.dormancy_window(D(2026, 3, 2), 180, 30)
    assert last == D(2025, 9, 3)  # 180 days without a transaction: dormant; 179 not yet
    assert (D(2026, 3, 2) - last).days == 180 and (last - first).days == 30
    assert rules.dormancy_window(D(2026, 3, 2), 180, 0) == (D(2025, 9, 3), D(2025, 9, 3))  # that day only
    with pytest.raises(ValueError):
        rules.dormancy_window(D(2026, 3, 2), 180, -1)
