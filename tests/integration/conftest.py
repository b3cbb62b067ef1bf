"""A real Redis and a real Celery worker process for the tests that are about them.

Locally they skip with a message when Redis is absent; under CI=true a missing Redis fails.
"""

import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def reachable_redis_url() -> str:
    """REDIS_URL (default db 15) if Redis answers; else a skip, or a failure under CI=true."""
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        message = f"Redis is not reachable at {url} ({exc}); set REDIS_URL or start redis-server"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture(scope="session")
def redis_url():
    return reachable_redis_url()


def _database_url():
    s = connection.settings_dict
    auth = quote(s["USER"] or "postgres") + (":" + quote(s["PASSWORD"]) if s["PASSWORD"] else "")
    host = s["HOST"] or s.get("OPTIONS", {}).get("host", "")
    if host.startswith("/"):
        return f"postgres://{auth}@/{s['NAME']}?host={host}"
    return f"postgres://{auth}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


@contextmanager
def celery_workers(count: int, redis_url: str):
    """``count`` `celery worker` processes on one private queue against the test database; yields the queue.

    The queue is named after the xdist worker and a random suffix, so parallel workers never take each other's
    tasks."""
    from crm_project.celery import app

    queue = f"crm-it-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{uuid.uuid4().hex[:8]}"
    old = (app.conf.broker_url, app.conf.result_backend)
    app.conf.broker_url = app.conf.result_backend = redis_url
    procs = [worker_process(queue, redis_url, f"w{k}") for k in range(count)]
    try:
        _wait_until_ready(app, queue, count)
        yield queue
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                out, _ = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
            print(out[-3000:])
        app.conf.broker_url, app.conf.result_backend = old


def celery_env(redis_url: str) -> dict:
    """The environment of a celery process against the test database and ``redis_url``."""
    return dict(os.environ, DATABASE_URL=_database_url(), REDIS_URL=redis_url,
                DJANGO_SETTINGS_MODULE="crm_project.settings.test")


def worker_process(queue: str, redis_url: str, name: str) -> subprocess.Popen:
    """One `celery worker` process (solo pool) taking tasks from ``queue``."""
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "crm_project", "worker", "--pool=solo", "-Q", queue,
         "-n", f"{name}-{queue}@%h", "--without-gossip", "--without-mingle", "--loglevel=INFO"],
        cwd=ROOT, env=celery_env(redis_url), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_until_ready(app, queue: str, count: int, timeout: float = 90) -> None:
    _wait_until_ready(app, queue, count, timeout)


def _wait_until_ready(app, queue: str, count: int, timeout: float = 90) -> None:
    """Until every worker of ``queue`` answers a ping: a worker that starts late on a busy machine would otherwise
    leave all the tasks to the first one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1) or []
        if sum(1 for reply in replies for name in reply if queue in name) >= count:
            return
    raise RuntimeError(f"{count} celery workers on {queue} did not answer within {timeout:.0f} s")


@pytest.fixture
def celery_worker(transactional_db, redis_url):
    """One real `celery worker` process on a private queue against the test database; yields the queue name."""
    with celery_workers(1, redis_url) as queue:
        yield queue


@pytest.fixture
def two_celery_workers(transactional_db, redis_url):
    """Two real `celery worker` processes taking tasks from one private queue; yields the queue name."""
    with celery_workers(2, redis_url) as queue:
        yield queue
