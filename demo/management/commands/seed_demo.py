"""``manage.py seed_demo --customers N``: a realistic demo bank, loaded with COPY (see the ``demo`` package)."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from demo.org import DEMO_PASSWORD
from demo.run import CHUNK_SIZE
from demo.run import seed as seed_demo


class Command(BaseCommand):
    help = (f"Create a demo bank: branches, staff (password {DEMO_PASSWORD}) and N customers with monthly "
            "snapshots, holdings, interactions and tasks. Deterministic for a given --seed and --today.")

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, required=True, help="Number of customers to create.")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")
        parser.add_argument("--months", type=int, default=24,
                            help="Monthly snapshots per customer, ending at the month of --today (default 24).")
        parser.add_argument("--today", type=date.fromisoformat, default=None,
                            help="Reference date YYYY-MM-DD (default: today in the display time zone).")
        parser.add_argument("--if-empty", action="store_true",
                            help="Do nothing if any customer exists already (first start of the app).")
        parser.add_argument("--rms", type=int, default=None,
                            help="Relationship managers (default: one per 2,500 customers, 10–500).")
        parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE,
                            help="Customers per COPY chunk (default %(default)s; changes the generated data).")
        parser.add_argument("--no-logins", action="store_true",
                            help="Do not list the demo logins at the end (`make run` prints them itself).")
        parser.add_argument("--no-vacuum", action="store_true",
                            help="Only ANALYZE at the end instead of VACUUM (ANALYZE).")

    def handle(self, *args, customers, seed, months, today, if_empty, rms, chunk_size, no_vacuum, no_logins=False,
               **options):
        if customers < 0:
            raise CommandError("--customers must be 0 or more.")
        if not 1 <= months <= 240:
            raise CommandError("--months must be between 1 and 240.")
        if rms is not None and rms < 3:
            raise CommandError("--rms must be at least 3 (rm1, rm2 and rm3 are demo logins).")
        if chunk_size < 1:
            raise CommandError("--chunk-size must be positive.")
        today = today or timezone.localdate()

        def log(line):
            self.stdout.write(line)
            self.stdout.flush()

        result = seed_demo(customers=customers, seed=seed, months=months, today=today, if_empty=if_empty,
                           n_rms=rms, chunk_size=chunk_size, vacuum=not no_vacuum, log=log)
        if result.get("skipped"):
            return
        for table, rows in sorted(result["rows"].items()):
            log(f"  {table}: {rows:,} rows")
        if no_logins:
            log(self.style.SUCCESS("Demo bank ready."))
            return
        log(self.style.SUCCESS(
            f"Demo bank ready. Logins (password {DEMO_PASSWORD}): hq, hq2 (head office), sup1/sup2 (supervisors), "
            f"officer1 (complaint officer), rm1/rm2 (first branch), rm3 (second branch)."))
