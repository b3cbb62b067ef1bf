"""Seed throughput: ``manage.py seed_demo`` (COPY-based) into an empty customer table.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench .venv/bin/python bench/bench_seed.py \
        --customers 1000000 --months 3

The database must be migrated and hold no customers. ``--truncate`` empties the customer tables
first (only in a database whose name contains "bench"). The seeded data stays for the other benchmarks.
"""

import argparse
import sys
from datetime import date

import common
from django.db import connection

from customers.models import Customer
from demo.run import seed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--today", type=date.fromisoformat, default=date(2026, 3, 15))
    parser.add_argument("--truncate", action="store_true", help="Empty the customer tables first.")
    args = parser.parse_args()

    db = connection.settings_dict["NAME"]
    if args.truncate:
        if "bench" not in db:
            sys.exit(f"--truncate only in a database named *bench* (this is {db!r}).")
        with connection.cursor() as cur:
            cur.execute("TRUNCATE customers_customer RESTART IDENTITY CASCADE")
    if Customer.objects.exists():
        sys.exit(f"{db} already holds customers: use an empty database or --truncate.")

    common.header(f"seed_demo --customers {args.customers:,} --months {args.months} --seed {args.seed}")
    result = seed(customers=args.customers, seed=args.seed, months=args.months, today=args.today,
                       log=lambda line: print("  " + line, flush=True))
    rows = sum(result["rows"].values())
    total = result["total_seconds"]
    common.report("seed total time", total, "s",
                  note=f"load {result['load_seconds']:.1f} s + VACUUM ANALYZE {total - result['load_seconds']:.1f} s")
    common.report("seed customers/s", args.customers / total, "customers/s", fmt="{:,.0f}")
    common.report("seed rows/s (all tables)", rows / total, "rows/s", fmt="{:,.0f}",
                  note=", ".join(f"{t.removeprefix('customers_')} {n:,}" for t, n in sorted(result["rows"].items())))
    with connection.cursor() as cur:
        cur.execute("SELECT pg_size_pretty(pg_total_relation_size('customers_customer')), "
                    "pg_size_pretty(pg_total_relation_size('customers_financialsnapshot')), "
                    "pg_size_pretty(pg_database_size(current_database()))")
        c, s, d = cur.fetchone()
    print(f"# sizes: customers {c} (with indexes), snapshots {s}, database {d}")
    common.save(__file__)


if __name__ == "__main__":
    main()
