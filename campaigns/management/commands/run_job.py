"""``manage.py run_job NAME [--date YYYY-MM-DD]``: run one scheduled job by hand, e.g. to replay a missed day."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from campaigns import jobs


class Command(BaseCommand):
    help = "Run a scheduled job for a day (default today, Asia/Shanghai): " + ", ".join(sorted(jobs.JOBS))

    def add_arguments(self, parser):
        parser.add_argument("name", help="The job: " + ", ".join(sorted(jobs.JOBS)))
        parser.add_argument("--date", default=None, help="The day YYYY-MM-DD (default: today in Asia/Shanghai).")

    def handle(self, *args, name, date, **options):
        if name not in jobs.JOBS:
            raise CommandError(f"unknown job {name!r}: choose one of {', '.join(sorted(jobs.JOBS))}")
        try:
            day = dt.date.fromisoformat(date) if date else timezone.localdate()
        except ValueError:
            raise CommandError(f"--date {date!r} is not a date YYYY-MM-DD") from None
        record = jobs.run(name, day=day, now=timezone.now())
        self.stdout.write(f"{name} for {day.isoformat()}: {record.counts}")
