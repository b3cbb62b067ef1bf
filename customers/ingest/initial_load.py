"""The initial load: a large customers file into an empty customer table, as PostgreSQL's documented way of
populating a table.

In one transaction that locks the customer and profile-history tables, their btree indexes, unique constraints
(not the primary keys) and foreign keys are dropped, the records are checked batch by batch with the same
parsing and rules as every batch and COPYed straight in (``InitialLoad``: every record is new), then the indexes
are rebuilt (one sort each, instead of a random insertion per row and index), the constraints re-added (one
validating pass each instead of a check per row; a duplicate CIF would fail here) and the tables analysed. All or
nothing: if anything fails, the tables are as before, indexes included. Figures in bench/README.md.
"""

from __future__ import annotations

import queue
import threading
from contextlib import contextmanager
from datetime import date

import numpy as np
from django.db import connection, transaction

from core.copy import copy_data, copy_text
from org.access import actor_ids

from .batch import TXID, BulkResult, batch_columns, rejections
from .columns import object_array
from .customers import AUDITED, CHECKED, OrgLookups, array_literals, merged_and_checked, parse_batch
from .scope import Scope

INITIAL_LOAD_MIN_ROWS = 50_000  # below this, dropping and rebuilding the indexes costs more than it saves
TABLES = ["customers_customer", "customers_customerchange"]


class InitialLoadFailed(RuntimeError):
    """An initial load stopped at an unexpected error; it wrote nothing (it is all or nothing). The cause is
    chained."""


class InitialLoad:
    """Writes the initial load of an empty customer table (``initial_load``), batch by batch, inside the load's
    transaction: the same parsing and rules as every batch, then the good records go straight into the customer
    and history tables with COPY (PostgreSQL's fastest way in; no temporary table, no conflict checks).

    The caller guarantees what makes that safe: the table was empty and is locked exclusively, and keys that
    appear twice in the file were rejected beforehand, so every record is new. (Were one not, re-adding the CIF's
    unique constraint at the end would fail the whole load.) Ids are reserved from the table's sequence once.

    The COPYs run in a thread of their own on the load's connection, so PostgreSQL stores one batch while Python
    checks the next (both cores busy: the COPY runs beside the Python work instead of after it). Meanwhile the batches need no database: the organisation data is read once (``OrgLookups``), and
    nothing else may use the connection until ``close()``.
    """

    def __init__(self, *, actor, source: str, rows_total: int):
        self.actor, self.source = actor, source
        self.scope, self.lookups = Scope.of(actor), OrgLookups.load()
        actor_id, key_id = actor_ids(actor)
        reserved = max(rows_total, 1)
        with connection.cursor() as cur:
            cur.execute("SELECT setval(pg_get_serial_sequence('customers_customer', 'id'), "
                        "nextval(pg_get_serial_sequence('customers_customer', 'id')) + %s), now(), "
                        f"{TXID}", [reserved])
            last, now, txid = cur.fetchone()
            # What is the same for every row is not sent 1M times: for the load, those columns default to it.
            self._constants = {
                "customers_customer": {"aum_latest": 0, "created_at": now, "updated_at": now, "change_txid": txid},
                "customers_customerchange": {"at": now, "actor_id": actor_id, "api_key_id": key_id,
                                             "source": source, "changes": "{}", "created": True},
            }
            self._saved_defaults = _column_defaults(cur, self._constants)
            for table, values in self._constants.items():
                for column, value in values.items():
                    cur.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" SET DEFAULT %s', [value])
        self.next_id, self.last_id = last - reserved, last
        self._raw = connection.connection  # psycopg2's connection (thread-safe); Django's wrapper stays here
        self._queue: queue.Queue = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write, name="initial-load-copy", daemon=True)
        self._thread.start()

    def add(self, records, *, today: date, offset: int = 0) -> BulkResult:
        """Check one batch of records (a list of dicts or a DataFrame of raw values) and queue its good records."""
        self._raise_if_failed()
        columns, n, errors = batch_columns(records)
        if not n:
            return BulkResult()
        parsed, provided, keys = parse_batch(columns, n, errors, today=today, lookups=self.lookups)
        nothing_stored = {c: np.empty(0, dtype=object) for c in ["cif", *CHECKED]}  # every record is new
        merged, _base, _is_new = merged_and_checked(parsed, provided, nothing_stored, errors, today=today,
                                                     scope=self.scope, lookups=self.lookups)
        good = ~errors.bad
        result = rejections(errors, keys, offset)
        count = int(good.sum())
        if count:
            if self.next_id + count > self.last_id:
                raise RuntimeError("initial load: more records than the file was counted to have")
            first = self.next_id + 1
            self.next_id += count
            ids = object_array(range(first, first + count))
            rows = {"id": ids, "cif": merged["cif"][good], **{c: merged[c][good] for c in AUDITED}}
            array_literals(rows)
            history_ids = "\n".join(map(str, range(first, first + count))) + "\n"  # one creation entry each
            self._queue.put([("customers_customer", list(rows), copy_text(rows)),
                             ("customers_customerchange", ["customer_id"], history_ids)])
        result.created = count
        return result

    def close(self) -> None:
        """Wait for the last COPY and put the columns' defaults back; raise what failed in the thread (the
        caller's transaction then rolls back, defaults included)."""
        self.stop()
        self._raise_if_failed()
        with connection.cursor() as cur:
            for (table, column), default in self._saved_defaults.items():
                action = "DROP DEFAULT" if default is None else f"SET DEFAULT {default}"
                cur.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" {action}')

    def stop(self) -> None:
        """Wait for the thread to finish what it was given, so the connection is the caller's again."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _raise_if_failed(self):
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _write(self):
        with self._raw.cursor() as cur:
            while (work := self._queue.get()) is not None:
                if self._error is not None:
                    continue  # drain: the load has failed
                try:
                    for table, cols, data in work:
                        copy_data(cur, table, cols, data)
                except BaseException as e:  # noqa: BLE001  handed to the loading thread, which raises it
                    self._error = e


def _column_defaults(cur, columns: dict[str, dict]) -> dict[tuple[str, str], str | None]:
    """The default expression of each named column (None: no default), as PostgreSQL prints it."""
    out = {}
    for table, names in columns.items():
        cur.execute("SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a "
                    "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
                    "WHERE a.attrelid = %s::regclass AND a.attname = ANY(%s)", [table, list(names)])
        out.update({(table, name): default for name, default in cur.fetchall()})
    return out


@contextmanager
def _indexes_deferred(tables: list[str]):
    """Inside the caller's transaction: drop the tables' secondary indexes, unique constraints (the primary keys
    stay) and foreign keys, let the caller load, then recreate them from their own definitions
    (``pg_get_indexdef`` / ``pg_get_constraintdef``): one sort per index and one validating join per key instead
    of an index insertion and a check per row. A duplicate that slipped in fails the re-added constraint."""
    with connection.cursor() as cur:
        # GIN indexes stay: new entries go to their pending list at append cost (fastupdate: a COPY is as fast
        # with both GIN indexes as without), while rebuilding the name-bigram index is a large share of the load.

        cur.execute("SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                    "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam "
                    "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisunique AND NOT i.indisprimary "
                    "AND am.amname <> 'gin' ORDER BY 1", [tables])
        indexes = cur.fetchall()
        cur.execute("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('u', 'f') "
                    "ORDER BY contype DESC, 1, 2", [tables])
        constraints = cur.fetchall()  # unique constraints first: re-added before the foreign keys
        for name, _ddl in indexes:
            cur.execute(f"DROP INDEX {name}")
        for table, name, _ddl in constraints:
            cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    yield
    with connection.cursor() as cur:
        cur.execute("SET LOCAL maintenance_work_mem = '1GB'")  # each index sorted in memory
        for _name, ddl in indexes:
            cur.execute(ddl)
        for table, name, ddl in constraints:
            cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {ddl}')
        for table in tables:
            cur.execute(f"ANALYZE {table}")


@contextmanager
def initial_load_if_due(rows_total: int, wanted: bool | None, actor, *, due: bool):
    """Yields an ``InitialLoad`` when an import of ``rows_total`` records runs as an initial load (see the module
    docstring), else None. ``due``: the import is of customers; ``wanted``: None decides by the size, False never,
    True whenever the table is empty."""
    tables = TABLES
    if not due or wanted is False or (wanted is None and rows_total < INITIAL_LOAD_MIN_ROWS):
        yield None
        return
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")
            cur.execute(f"SELECT EXISTS (SELECT 1 FROM {tables[0]})")
            empty = not cur.fetchone()[0]
        if empty:
            with _indexes_deferred(tables):
                loader = InitialLoad(actor=actor, source="import", rows_total=rows_total)
                try:
                    yield loader
                except BaseException:
                    loader.stop()  # the thread's own error, if any, must not hide this one
                    raise
                loader.close()
            return
    yield None  # not empty: an ordinary import, chunk by chunk (the lock ended with the transaction)

