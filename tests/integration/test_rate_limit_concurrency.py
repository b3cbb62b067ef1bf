"""API rate limits under parallel clients, counted in a real Redis (issue 9 §8).

16 clients, each on its own thread (its own database connection), start together behind a barrier and send
10 requests each with the same API key (or the same staff session). With a limit of 40 a window, together
they may get at most 40 + 5 % answers that are not 429. The clock is pinned inside one window, so the
count cannot be split across two. DRF's ``SimpleRateThrottle`` (read the timestamp list, append, write it
back) let most of the 160 requests through here.
"""

import threading
import uuid

import pytest
import time_machine
from django.db import connection
from rest_framework.test import APIClient

from org.api.throttling import ApiKeyRateThrottle, StaffRateThrottle

from ..org.builders import ALL_SCOPES, ApiKeyFactory, BranchFactory, RMFactory

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS, REQUESTS, LIMIT = 16, 10, 40


@pytest.fixture
def redis_cache(settings, redis_url, monkeypatch):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": redis_url, "KEY_PREFIX": f"rl-test-{uuid.uuid4().hex}"}}
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": f"{LIMIT}/h", "user": f"{LIMIT}/h"})
    monkeypatch.setattr(StaffRateThrottle, "THROTTLE_RATES", {"api_key": f"{LIMIT}/h", "user": f"{LIMIT}/h"})
    with time_machine.travel(1_800_000_000 + 60, tick=False):  # one minute into an hour's window
        yield


def hammer(make_client):
    statuses, errors = [], []
    barrier = threading.Barrier(CLIENTS)
    lock = threading.Lock()

    def run():
        try:
            client = make_client()
            barrier.wait(timeout=30)
            mine = [client.get("/api/v1/customers/999999999/").status_code for _ in range(REQUESTS)]
            with lock:
                statuses.extend(mine)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(statuses) == CLIENTS * REQUESTS
    assert set(statuses) <= {404, 429}, set(statuses)
    return sum(1 for s in statuses if s != 429)


def test_parallel_clients_of_one_key_share_one_budget(redis_cache):
    key = ApiKeyFactory(scopes=list(ALL_SCOPES))

    def make():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key.raw_key}")
        return client

    passed = hammer(make)
    assert LIMIT <= passed <= LIMIT * 1.05


def test_parallel_sessions_of_one_user_share_one_budget(redis_cache):
    rm = RMFactory(branch=BranchFactory())
    signed_in = APIClient()
    signed_in.force_login(rm)
    cookie = signed_in.cookies["sessionid"].value

    def make():
        client = APIClient()
        client.cookies["sessionid"] = cookie
        return client

    passed = hammer(make)
    assert LIMIT <= passed <= LIMIT * 1.05


def test_throttled_answer_has_the_error_shape_and_retry_after(redis_cache):
    key = ApiKeyFactory(scopes=list(ALL_SCOPES))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key.raw_key}")
    for _ in range(LIMIT):
        assert client.get("/api/v1/customers/999999999/").status_code == 404
    response = client.get("/api/v1/customers/999999999/")
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "throttled" and body["detail"] and body["errors"] == {}
    assert int(response["Retry-After"]) == 3600 - 60  # the rest of the pinned window
