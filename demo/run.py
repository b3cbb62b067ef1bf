"""``seed(...)``: run the demo parts in order and load their rows with COPY in one transaction.

A part is a module of this package with

- ``prepare(ctx, *, n_rms, log)``: what it makes up front through its app's services (in one transaction);
- ``chunk(ctx, index, offset, n, ids)``: its COPY tables ``(table, columns, text, rows)`` for customers
  ``offset … offset+n-1`` of this run; ``ids`` holds the next free id per key and is advanced in place;
- ``NEXT_IDS`` (id key → table: ids continue after the table's max(id)), ``COPY_TABLES`` (their id sequences
  are set after the load) and ``TABLES`` (analysed at the end);
- optionally ``finish(ctx, *, log)``: work on the loaded data through its app's services, after the load
  (segmentation classifies the newest months).

A new app adds its module to :data:`PARTS`, after the parts it builds on.
"""

import time
from datetime import date

from django.db import connection, transaction

from customers.models import Customer

from . import campaigns as campaigns_part
from . import complaints as complaints_part
from . import customers as customers_part
from . import org as org_part
from . import segmentation as segmentation_part
from .context import Chunk, make_context
from .loader import Writer

PARTS = (org_part, customers_part, segmentation_part, complaints_part, campaigns_part)
CHUNK_SIZE = 50_000
ADVISORY_LOCK_KEY = 0x5EED_DE30  # serialises concurrent seed runs (e.g. two `run` starts)


def seed(*, customers: int, seed: int = 1, months: int = 24, today: date, if_empty: bool = False,
         n_rms: int | None = None, chunk_size: int = CHUNK_SIZE, vacuum: bool = True, log=print) -> dict:
    """Create the demo bank; returns row counts and timings. See the package docstring."""
    t_start = time.monotonic()
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
    try:
        if if_empty and Customer.objects.exists():
            log("customers already exist: nothing to do (--if-empty)")
            return {"skipped": True}
        n_rms = n_rms or max(10, min(500, customers // 2500))
        ctx = make_context(seed=seed, months=months, today=today)
        with transaction.atomic():
            for part in PARTS:
                part.prepare(ctx, n_rms=n_rms, log=log)
        with connection.cursor() as cur:
            nxt = {}
            for part in PARTS:
                for key, table in part.NEXT_IDS.items():
                    cur.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")
                    nxt[key] = cur.fetchone()[0]
        log(f"generating {customers:,} customers × {months} months ({ctx.periods[0]:%Y-%m} … "
            f"{ctx.periods[-1]:%Y-%m}), {len(ctx.org.rm_ids)} RMs, seed {seed}")
        writer = Writer(log, customers)
        writer.start()
        gen_time = 0.0
        try:
            try:
                for index, first in enumerate(range(0, customers, chunk_size)):
                    if writer.error:
                        break
                    t0 = time.monotonic()
                    n = min(chunk_size, customers - first)
                    tables = [t for part in PARTS for t in part.chunk(ctx, index, first, n, nxt)]
                    gen_time += time.monotonic() - t0
                    writer.q.put(Chunk(tables=tables, customers=n))
            finally:
                writer.q.put(None)
                writer.join()
            if writer.error:
                raise writer.error
            with writer.conn.cursor() as cur:
                for table in (t for part in PARTS for t in part.COPY_TABLES):
                    cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 1), "
                                f"max(id) IS NOT NULL) FROM {table}")
            writer.conn.commit()
        except BaseException:
            writer.conn.rollback()
            raise
        finally:
            writer.conn.close()
        t_loaded = time.monotonic()
        log(f"loaded in {t_loaded - t_start:.1f}s (generation {gen_time:.1f}s of it, overlapped with COPY)")
        with connection.cursor() as cur:
            for table in (t for part in PARTS for t in part.TABLES):
                cur.execute(f"VACUUM (ANALYZE) {table}" if vacuum else f"ANALYZE {table}")
        for part in PARTS:
            if hasattr(part, "finish"):  # work on the loaded data through the app's services (segmentation runs)
                part.finish(ctx, log=log)
        with connection.cursor() as cur:
            for table in (t for part in PARTS if hasattr(part, "finish") for t in part.TABLES):
                cur.execute(f"ANALYZE {table}")
        t_end = time.monotonic()
        log(f"{'VACUUM ANALYZE' if vacuum else 'ANALYZE'} in {t_end - t_loaded:.1f}s; total {t_end - t_start:.1f}s")
        return {"rows": writer.rows, "load_seconds": t_loaded - t_start, "total_seconds": t_end - t_start,
                "generation_seconds": gen_time, "logins": ctx.org.logins}
    finally:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
