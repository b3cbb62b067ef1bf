"""Shared fixtures: the organisation (``org_world``) or it with customers (``world``), API clients for staff and keys.

The data come from the per-app builders, ``tests/org/builders.py`` and ``tests/customers/builders.py``.

Run with ``DATABASE_URL=postgres://...`` or without it (the embedded PostgreSQL under var/).
"""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from org.constants import Scope

from .customers.builders import build_world
from .org.builders import ALL_SCOPES, ApiKeyFactory, build_org

pytest_plugins = ["tests.summary_plugin"]


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttle counters and axes state live in the cache: start every test clean."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def org_world(db):
    """The branches and staff of ``tests.org.builders.Org`` (no customers), rolled back afterwards."""
    return build_org()


@pytest.fixture
def world(db):
    """``tests.customers.builders.World``: the organisation and its customer book, rolled back afterwards."""
    return build_world()


@pytest.fixture
def world_tx(transactional_db):
    """The same ``World`` really committed, for tests that use several connections or threads."""
    return build_world()


# --- API clients ---

@pytest.fixture
def api_client():
    """An anonymous DRF test client."""
    return APIClient()


@pytest.fixture
def client_for():
    """``client_for(user)`` → an APIClient signed in as that member of staff."""

    def make(user):
        client = APIClient()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def key_client(db):
    """``key_client(scopes=[...], branch=None, **kw)`` → an APIClient sending ``Authorization: Api-Key <key>``.

    The ApiKey is available as ``client.api_key``.
    """

    def make(scopes=None, branch=None, **kwargs):
        api_key = ApiKeyFactory(scopes=list(ALL_SCOPES if scopes is None else scopes), branch=branch, **kwargs)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key.raw_key}")
        client.api_key = api_key
        return client

    return make


@pytest.fixture
def full_key_client(key_client):
    """A key with every scope and no branch limit."""
    return key_client()


@pytest.fixture
def read_key_client(key_client):
    """A read-only key: customers:read and snapshots:read, no pii:read."""
    return key_client(scopes=[Scope.CUSTOMERS_READ, Scope.SNAPSHOTS_READ])


@pytest.fixture
def pii_key_client(key_client):
    return key_client(scopes=[Scope.CUSTOMERS_READ, Scope.SNAPSHOTS_READ, Scope.PII_READ])


def principal_client(world, who, *, client_for, key_client):
    """The client for one principal name of the access matrix."""
    if who == "anonymous":
        return APIClient()
    if who == "key_read":
        return key_client(scopes=[Scope.CUSTOMERS_READ, Scope.SNAPSHOTS_READ])
    if who == "key_b2":
        return key_client(scopes=ALL_SCOPES, branch=world.b2)
    return client_for(getattr(world, who))
