"""The COPY writer of the demo: a thread with its own connection, loading chunks while the next is generated."""

import queue
import threading
import time

import psycopg2
from django.db import connection

from core.copy import copy_data


class Writer(threading.Thread):
    """Runs the COPYs on its own connection, in one transaction, while the main thread generates."""

    def __init__(self, log, total):
        super().__init__(daemon=True)
        self.q: queue.Queue = queue.Queue(maxsize=2)
        self.log, self.total = log, total
        self.error: BaseException | None = None
        self.rows, self.seconds = {}, {}
        self.conn = psycopg2.connect(**connection.get_connection_params())
        self.conn.autocommit = False
        with self.conn.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # check FKs during COPY, not all at COMMIT
            # GIN (name bigrams, tags) inserts go through the pending list: a bigger list and more memory
            # to merge it make the bulk load cheaper (both are per-session settings)
            cur.execute("SET LOCAL gin_pending_list_limit = '64MB'")
            cur.execute("SET LOCAL work_mem = '64MB'")

    def run(self):
        started = time.monotonic()
        done = 0
        try:
            while (chunk := self.q.get()) is not None:
                if self.error:
                    continue
                t0 = time.monotonic()
                spent = []
                with self.conn.cursor() as cur:
                    for table, cols, text, rows in chunk.tables:
                        t1 = time.monotonic()
                        copy_data(cur, table, cols, text)
                        self.rows[table] = self.rows.get(table, 0) + rows
                        self.seconds[table] = self.seconds.get(table, 0.0) + time.monotonic() - t1
                        spent.append(f"{table.removeprefix('customers_')[:8]} {time.monotonic() - t1:.1f}s")
                done += chunk.customers
                elapsed = time.monotonic() - started
                chunk_rows = sum(t[3] for t in chunk.tables)
                self.log(f"  {done:>10,}/{self.total:,} customers  chunk {chunk_rows:,} rows in "
                         f"{time.monotonic() - t0:.1f}s ({', '.join(spent)})  | {done / elapsed:,.0f} customers/s, "
                         f"{sum(self.rows.values()) / elapsed:,.0f} rows/s")
        except BaseException as e:  # noqa: BLE001 - handed to the main thread, which re-raises it
            self.error = e

