"""Shared fixtures: a small organisation (``world``), API clients for staff and for API keys.

Run with ``DATABASE_URL=postgres://...`` or without it (the embedded PostgreSQL under var/).
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from customers.models import Customer
from org.constants import BranchLevel, Scope

from .factories import (
    ALL_SCOPES,
    ApiKeyFactory,
    BranchFactory,
    ComplaintOfficerFactory,
    CustomerFactory,
    FinancialSnapshotFactory,
    FollowUpTaskFactory,
    HeadOfficeUserFactory,
    HoldingFactory,
    InteractionFactory,
    RMFactory,
    SupervisorFactory,
)


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttle counters and axes state live in the cache: start every test clean."""
    cache.clear()
    yield
    cache.clear()


@dataclass
class World:
    ho: object
    b1: object
    b1a: object
    b2: object
    rm: object
    other_rm: object
    rm_b2: object
    sup_b1: object
    sup_b2: object
    ho_user: object
    co_b1: object
    customers: dict = field(default_factory=dict)  # name → Customer
    snapshots: dict = field(default_factory=dict)  # customer name → snapshot
    holdings: dict = field(default_factory=dict)
    interactions: dict = field(default_factory=dict)
    tasks: dict = field(default_factory=dict)

    @property
    def c_rm(self) -> Customer:
        """The RM's customer at B1: the target of the access matrix."""
        return self.customers["c_rm"]

    def visible_customer_ids(self, who: str) -> set[int]:
        """Which customers each principal of the access matrix may see (DOMAIN.md §1)."""
        c = self.customers
        every = {x.pk for x in c.values()}
        in_b1 = {c["c_rm"].pk, c["c_rm_outlet"].pk, c["c_other"].pk}
        return {
            "rm": {c["c_rm"].pk, c["c_rm_outlet"].pk},
            "other_rm": {c["c_other"].pk},
            "rm_b2": {c["c_b2"].pk},
            "sup_b1": in_b1,
            "sup_b2": {c["c_b2"].pk},
            "ho_user": every,
            "co_b1": set(),
            "anonymous": set(),
            "key_read": every,
            "key_b2": {c["c_b2"].pk},
        }[who]


@pytest.fixture
def world(db):
    """The ``World`` below, inside the test's transaction (rolled back afterwards)."""
    return build_world()


@pytest.fixture
def world_tx(transactional_db):
    """The same ``World`` really committed, for tests that use several connections or threads."""
    return build_world()


def build_world():
    """Head office HO → branch B1 (outlet B1a) and branch B2, their staff and a few customers each.

    customers: c_rm (rm, B1), c_rm_outlet (rm, B1a), c_other (other_rm, B1), c_b2 (rm_b2, B2);
    each has one snapshot, one holding, one interaction and one open task.
    """
    ho = BranchFactory(code="HO", name="总行", level=BranchLevel.HEAD_OFFICE)
    b1 = BranchFactory(code="B1", name="福州分行", level=BranchLevel.BRANCH, parent=ho)
    b1a = BranchFactory(code="B1A", name="五四路支行", level=BranchLevel.OUTLET, parent=b1)
    b2 = BranchFactory(code="B2", name="厦门分行", level=BranchLevel.BRANCH, parent=ho)
    w = World(
        ho=ho, b1=b1, b1a=b1a, b2=b2,
        rm=RMFactory(username="rm", branch=b1, last_name="王", first_name="经理"),
        other_rm=RMFactory(username="other_rm", branch=b1, last_name="李", first_name="经理"),
        rm_b2=RMFactory(username="rm_b2", branch=b2, last_name="陈", first_name="经理"),
        sup_b1=SupervisorFactory(username="sup_b1", branch=b1),
        sup_b2=SupervisorFactory(username="sup_b2", branch=b2),
        ho_user=HeadOfficeUserFactory(username="ho_user", branch=ho),
        co_b1=ComplaintOfficerFactory(username="co_b1", branch=b1),
    )
    specs = {
        "c_rm": {"name": "张伟明", "rm": w.rm, "branch": b1, "aum_latest": Decimal("500000.00"),
                 "tags": ["VIP", "代发"]},
        "c_rm_outlet": {"name": "刘芳华", "rm": w.rm, "branch": b1a, "aum_latest": Decimal("80000.00")},
        "c_other": {"name": "赵敏", "rm": w.other_rm, "branch": b1, "aum_latest": Decimal("200000.00")},
        "c_b2": {"name": "孙丽娟", "rm": w.rm_b2, "branch": b2, "aum_latest": Decimal("1500000.00"), "tags": ["VIP"]},
    }
    for key, spec in specs.items():
        customer = CustomerFactory(**spec)
        w.customers[key] = customer
        w.snapshots[key] = FinancialSnapshotFactory(customer=customer, period=dt.date(2026, 9, 1))
        w.holdings[key] = HoldingFactory(customer=customer)
        w.interactions[key] = InteractionFactory(customer=customer)
        w.tasks[key] = FollowUpTaskFactory(customer=customer, due_date=dt.date(2030, 1, 1))
    return w


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
