"""A segmentation run on two real Celery worker processes: the chunks are shared out between them, the run
completes and becomes the one in force, with one row per customer."""

import datetime as dt
import time
from decimal import Decimal

import pytest

from segmentation import services
from segmentation.constants import RunStatus
from segmentation.models import Assignment, Run
from tests.customers.builders import CustomerFactory, FinancialSnapshotFactory
from tests.org.builders import build_org
from tests.segmentation.builders import published_policy

NOV = dt.date(2026, 11, 1)


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 6 customers, in the worker processes too (they read the setting from the environment)."""
    monkeypatch.setenv("SEGMENTATION_CHUNK_SIZE", "6")


def test_a_run_is_shared_by_two_workers(small_chunks, two_celery_workers):
    org = build_org()
    customers = [CustomerFactory(rm=org.rm if i % 3 else org.rm_b2, branch=org.b1 if i % 3 else org.b2)
                 for i in range(60)]
    for i, c in enumerate(customers):
        FinancialSnapshotFactory(customer=c, period=NOV, contribution=Decimal(i * 100), aum_avg=Decimal(i * 20_000))
    published_policy()

    run, started = services.run_start(as_of=NOV, queue=two_celery_workers)
    assert started
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status != RunStatus.RUNNING:
            break
        time.sleep(0.3)
    assert run.status == RunStatus.DONE, run.error
    assert run.is_current and run.chunks_total == 10 and sorted(run.chunks_finished) == list(range(10))
    assert Assignment.objects.filter(run=run).count() == 60 and run.ranking is None
    # both workers took chunks: the worker's hostname is not stored, so look at the task results' workers
    from crm_project.celery import app

    seen = set()
    for name, tasks in (app.control.inspect(timeout=2).stats() or {}).items():
        if tasks.get("total", {}).get("segmentation.tasks.run_chunk"):
            seen.add(name)
    assert len(seen) == 2, seen
    assert Run.objects.filter(status=RunStatus.RUNNING).count() == 0
