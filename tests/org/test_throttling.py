"""API rate limits: per key for integration clients, per user for staff."""

import pytest

from org.api.throttling import ApiKeyRateThrottle, StaffRateThrottle


@pytest.fixture
def tight_limits(monkeypatch):
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "3/min"})
    monkeypatch.setattr(StaffRateThrottle, "THROTTLE_RATES", {"user": "3/min"})


def test_each_key_has_its_own_budget(org_world, key_client, tight_limits):
    first, second = key_client(), key_client()
    statuses = [first.get("/api/v1/customers/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    body = first.get("/api/v1/customers/").json()
    assert body["code"] == "throttled" and body["detail"]
    assert second.get("/api/v1/customers/").status_code == 200  # another key is not affected


def test_staff_are_limited_per_user(org_world, client_for, tight_limits):
    rm, other = client_for(org_world.rm), client_for(org_world.other_rm)
    assert [rm.get("/api/v1/customers/").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert other.get("/api/v1/customers/").status_code == 200
