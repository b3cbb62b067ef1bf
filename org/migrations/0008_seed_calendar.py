"""The bank-wide working calendar seeded from the chinesecalendar package: every day off and make-up working day of
the years it holds (2004–2026 in 1.11), each of those years marked complete. ``manage.py seed_calendar`` does the
same again later (e.g. after upgrading the package for a new year)."""

from django.db import migrations


def seed(apps, schema_editor):
    import chinese_calendar

    CalendarDay = apps.get_model("org", "CalendarDay")
    CalendarYear = apps.get_model("org", "CalendarYear")
    days = [CalendarDay(branch=None, day=day, kind="holiday", name=name or "")
            for day, name in chinese_calendar.holidays.items()]
    days += [CalendarDay(branch=None, day=day, kind="workday", name=name or "")
             for day, name in chinese_calendar.workdays.items()]
    CalendarDay.objects.bulk_create(days, ignore_conflicts=True)
    first, last = min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year
    CalendarYear.objects.bulk_create([CalendarYear(year=y, source="package") for y in range(first, last + 1)],
                                     ignore_conflicts=True)


def unseed(apps, schema_editor):
    apps.get_model("org", "CalendarDay").objects.filter(branch=None).delete()
    apps.get_model("org", "CalendarYear").objects.filter(source="package").delete()


class Migration(migrations.Migration):
    dependencies = [("org", "0007_working_calendar")]
    operations = [migrations.RunPython(seed, unseed)]
