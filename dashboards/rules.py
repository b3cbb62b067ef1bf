"""Pure rules of the RM home: the birthday window (which birth dates are celebrated on which day of the next days:
solar, Feb 29 on Feb 28 of a common year, lunar by the lunar date of each day) and the age a customer turns.

No ORM, no settings, no clock: ``today`` and the birthday settings are parameters. The day-by-day rules are
``campaigns.rules``' (the ones the birthday scan uses), so the home shows the birthdays the scan greets.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from campaigns import rules as care_rules


@dataclass(frozen=True)
class BirthdayWindow:
    """The days ``first`` … ``last`` and, for each, the birth dates celebrated on it: ``solar`` maps a (month, day)
    of birth to the day it is celebrated; ``lunar`` maps a ``campaigns.rules.LunarDate`` of birth to its day."""

    first: dt.date
    last: dt.date
    solar: dict[tuple[int, int], dt.date] = field(default_factory=dict)
    lunar: dict[care_rules.LunarDate, dt.date] = field(default_factory=dict)

    def celebrated_on(self, birth: dt.date | None, *, lunar: bool) -> dt.date | None:
        """The day of the window a customer born on ``birth`` is celebrated (None: not in the window)."""
        if birth is None:
            return None
        if lunar:
            return self.lunar.get(care_rules.lunar_of(birth))
        return self.solar.get((birth.month, birth.day))


def birthday_window(today: dt.date, days: int = 7, *, feb29_on_feb28: bool = True, leap_to_regular: bool = True,
                    day30_to_29: bool = True) -> BirthdayWindow:
    """The birthdays celebrated from ``today`` for ``days`` days (today included), by the rules of the birthday
    scan: ``campaigns.rules.solar_birthdays_on`` and ``lunar_birthdays_on`` for each day."""
    window = BirthdayWindow(first=today, last=today + dt.timedelta(days=days - 1))
    for k in range(days):
        day = today + dt.timedelta(days=k)
        for pair in care_rules.solar_birthdays_on(day, feb29_on_feb28=feb29_on_feb28):
            window.solar.setdefault(pair, day)
        for lunar in care_rules.lunar_birthdays_on(day, leap_to_regular=leap_to_regular, day30_to_29=day30_to_29):
            window.lunar.setdefault(lunar, day)
    return window


def age_turning(birth: dt.date, day: dt.date, *, lunar: bool) -> int:
    """The age a customer born on ``birth`` turns on their birthday ``day``: counted in Gregorian years, or in lunar
    years for a lunar birthday (born in lunar 1989 and celebrated in lunar 2025: 36, whichever Gregorian years)."""
    if lunar:
        return care_rules.lunar_year(day) - care_rules.lunar_year(birth)
    return day.year - birth.year
