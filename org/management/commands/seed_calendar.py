"""``manage.py seed_calendar [--year 2026 ...] [--file 2027.csv --year 2027]``: the bank-wide working calendar."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.errors import ValidationFailed
from org import rules, services


class Command(BaseCommand):
    help = ("Load the bank-wide working calendar again from the chinesecalendar package (every year it holds, or "
            "--year), or a whole year from a CSV file (--file with one --year; rows: date, kind — holiday or "
            "workday —, name). The year's bank-wide days are replaced; branches' own days stay.")

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, action="append", help="Only this year (repeatable).")
        parser.add_argument("--file", type=Path, help="A CSV file of one year's days (UTF-8, header optional).")

    def handle(self, *args, year, file, **options):
        try:
            if file is not None:
                if not year or len(year) != 1:
                    raise CommandError("--file loads one year: give exactly one --year.")
                results = [services.calendar_year_load(year=year[0], rows=read_rows(file))]
            else:
                results = services.calendar_seed(years=year)
        except ValidationFailed as refused:
            raise CommandError("; ".join(m for messages in (refused.fields or {}).values() for m in messages)
                               or str(refused)) from None
        if not results:
            raise CommandError("The package holds none of the years asked for.")
        for r in results:
            self.stdout.write(f"{r['year']}: {r['days_off']} days off, {r['workdays']} make-up working days "
                              f"({r['added']} added, {r['removed']} removed)")


def read_rows(path: Path) -> list[list[str]]:
    try:
        return rules.calendar_rows(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"Cannot read {path}: {error}") from None
