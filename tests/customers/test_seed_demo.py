"""`manage.py seed_demo`: a realistic, valid, deterministic demo bank."""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count

from customers.models import Customer, FinancialSnapshot, Holding
from customers.services import customer_check
from org.constants import Role
from org.models import Branch, User

TODAY = dt.date(2026, 3, 15)


def seed(n=300, **kw):
    out = StringIO()
    call_command("seed_demo", customers=n, seed=kw.pop("seed", 7), months=3, today=TODAY, stdout=out, **kw)
    return out.getvalue()


def fingerprint():
    return list(Customer.objects.order_by("cif").values_list("cif", "name", "id_number", "mobile", "aum_latest",
                                                            "rm__username"))


@pytest.mark.django_db(transaction=True)
def test_demo_bank_is_valid_realistic_and_deterministic():
    output = seed()
    assert "Demo bank ready" in output

    # Organisation and the documented demo logins.
    assert Branch.objects.filter(level="branch").count() >= 3
    assert Branch.objects.filter(level="outlet").count() >= 3
    assert User.objects.filter(role=Role.RM).count() >= 10
    first, second = Branch.objects.filter(level="branch").order_by("id")[:2]
    expect = {"rm1": (Role.RM, first), "rm2": (Role.RM, first), "rm3": (Role.RM, second),
              "sup1": (Role.SUPERVISOR, first), "sup2": (Role.SUPERVISOR, second),
              "officer1": (Role.COMPLAINT_OFFICER, first)}
    for username, (role, branch) in expect.items():
        user = User.objects.get(username=username)
        assert user.check_password("Demo-Pass-2026") and (user.role, user.branch) == (role, branch), username
    hq = User.objects.get(username="hq")
    assert hq.check_password("Demo-Pass-2026") and hq.role == Role.HEAD_OFFICE

    # Every customer passes the same rules as a hand-entered one; RMs work where their customers are.
    customers = list(Customer.objects.select_related("rm__branch", "branch"))
    assert len(customers) == 300
    for c in customers:
        assert customer_check(c, today=TODAY) == {}, c.cif
        assert c.branch.path.startswith(c.rm.branch.path)
    assert {c.kind for c in customers} == {"individual", "corporate"}

    # Heavy-tailed AUM: the top 20% hold most of it.
    aums = sorted((c.aum_latest for c in customers), reverse=True)
    assert sum(aums[:60]) / sum(aums) > Decimal("0.6")
    # Monthly snapshots end at the month of --today; holdings exist.
    periods = FinancialSnapshot.objects.values("customer").annotate(n=Count("id")).values_list("n", flat=True)
    assert set(periods) == {3}
    assert FinancialSnapshot.objects.order_by("-period").first().period == dt.date(2026, 3, 1)
    assert Holding.objects.count() >= 300

    # --if-empty leaves an existing bank alone.
    before = fingerprint()
    seed(seed=99, if_empty=True)
    assert fingerprint() == before

    # The same seed gives the same bank.
    call_command("flush", interactive=False, verbosity=0)
    seed()
    assert fingerprint() == before


@pytest.mark.django_db(transaction=True)
def test_create_api_key_prints_a_working_key():
    from org.models import ApiKey

    seed(n=20)
    out = StringIO()
    call_command("create_api_key", "core-banking", scopes="customers:read,pii:read", branch="BJ",
                 expires_days=30, stdout=out)
    raw = out.getvalue().strip().splitlines()[-1]
    key = ApiKey.objects.get_from_key(raw)
    assert key.scopes == ["customers:read", "pii:read"] and key.branch.code == "BJ" and key.expiry_date


@pytest.mark.django_db
@pytest.mark.parametrize(("kwargs", "message"), [
    ({"scopes": "customers:read,everything"}, "Unknown scope"),
    ({"scopes": "customers:read", "branch": "NOPE"}, "No branch"),
    ({"scopes": "customers:read", "expires_days": 0}, "expires-days"),
])
def test_create_api_key_rejects_bad_options(kwargs, message):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match=message):
        call_command("create_api_key", "x", stdout=StringIO(), **kwargs)
