"""core.jobs: the advisory lock, the heartbeat writer seen by other connections, enqueueing after commit."""

from unittest import mock

import pytest
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from core import jobs
from customers.models import ImportJob

from ..org.builders import HeadOfficeUserFactory


def _other_connection():
    return connections.create_connection(DEFAULT_DB_ALIAS)


@pytest.mark.django_db(transaction=True)
def test_advisory_lock_is_taken_once_until_unlocked():
    other = _other_connection()
    try:
        assert jobs.try_lock(7, 1)
        with other.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(7, 1)")
            assert cur.fetchone()[0] is False
        jobs.unlock(7, 1)
        with other.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(7, 1), pg_advisory_unlock(7, 1)")
            assert cur.fetchone() == (True, True)
    finally:
        other.close()


@pytest.mark.django_db(transaction=True)
def test_heartbeat_inside_a_transaction_is_seen_by_other_connections_at_once():
    user = HeadOfficeUserFactory()
    job = ImportJob.objects.create(kind="customers", original_name="f.csv", file="imports/f.csv", uploaded_by=user)
    beat = jobs.Heartbeat(ImportJob, job.pk)
    other = _other_connection()
    try:
        with transaction.atomic():
            beat(rows_done=5, rows_total=10)
            with other.cursor() as cur:
                cur.execute("SELECT rows_done, rows_total, heartbeat_at IS NOT NULL FROM customers_importjob "
                            "WHERE id = %s", [job.pk])
                assert cur.fetchone() == (5, 10, True)
            transaction.set_rollback(True)
        beat(rows_done=10, rows_total=10)  # outside a transaction: the ordinary connection
        job.refresh_from_db()
        assert (job.rows_done, job.rows_total) == (10, 10)
    finally:
        beat.close()
        other.close()


@pytest.mark.django_db(transaction=True)
def test_enqueue_waits_for_the_commit_and_is_dropped_on_rollback():
    task = mock.Mock()
    with transaction.atomic():
        jobs.enqueue_on_commit(task, 1, queue="q")
        task.apply_async.assert_not_called()
    task.apply_async.assert_called_once_with((1,), queue="q")
    task.reset_mock()
    with transaction.atomic():
        jobs.enqueue_on_commit(task, 2)
        transaction.set_rollback(True)
    task.apply_async.assert_not_called()
