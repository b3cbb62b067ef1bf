"""Background-job helpers: a per-session advisory lock, a progress / heartbeat row writer that other
connections see at once, and enqueueing a task after the current transaction commits."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone


def try_lock(namespace: int, key: int) -> bool:
    """Take the session-level advisory lock (``namespace``, ``key``) if free: True if taken. Released by
    ``unlock`` or when the session ends (a dead worker's lock goes with its connection)."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s, %s)", [namespace, key])
        return cur.fetchone()[0]


def unlock(namespace: int, key: int) -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_unlock(%s, %s)", [namespace, key])


class Heartbeat:
    """Writes progress columns and a heartbeat time to one row of ``model`` so that other connections see them
    at once: on the ordinary connection in autocommit, or, inside a transaction (whose writes nobody sees
    before it commits), through a second autocommit connection of its own. The row must not be locked by
    that transaction. ``close()`` closes the second connection."""

    def __init__(self, model, pk, *, heartbeat_field: str = "heartbeat_at"):
        self.table, self.pk, self.heartbeat_field = model._meta.db_table, pk, heartbeat_field
        self.side = None

    def __call__(self, **values) -> None:
        values[self.heartbeat_field] = timezone.now()
        sets = ", ".join(f'"{name}" = %s' for name in values)
        sql, params = f'UPDATE "{self.table}" SET {sets} WHERE id = %s', [*values.values(), self.pk]
        if connection.in_atomic_block:
            if self.side is None:
                self.side = connections.create_connection(DEFAULT_DB_ALIAS)
            with self.side.cursor() as cur:
                cur.execute(sql, params)
        else:
            with connection.cursor() as cur:
                cur.execute(sql, params)

    def close(self) -> None:
        if self.side is not None:
            self.side.close()
            self.side = None


def enqueue_on_commit(task, *args, queue: str | None = None) -> None:
    """Send ``task`` with ``args`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: task.apply_async(args, queue=queue))
