"""Issue 9, item 12: search finds a customer by the last four digits of a mobile (手机尾号), in the list page
and the API, within the user's scope, through the index cust_mobile_suffix; the masked mobile in the
list keeps those four digits, so the RM sees the match."""

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from customers import rules, selectors
from customers.models import Customer

from .builders import CustomerFactory


def test_four_digits_are_also_a_mobile_suffix():
    assert rules.search_terms(" 8000 ").mobile_last4 == "8000"
    for q in ("800", "80001", "８０００", "80 0", "a800", "13800138000"):
        assert rules.search_terms(q).mobile_last4 is None, q


@pytest.fixture
def phones(org_world):
    """Customers of the RM with mobiles ending 5678 (two), 1234 and none; one of another RM ending 5678."""
    rm = org_world.rm
    return {
        "a": CustomerFactory(rm=rm, branch=org_world.b1, name="甲客户", mobile="13912345678", cif="P0001"),
        "b": CustomerFactory(rm=rm, branch=org_world.b1, name="乙客户", mobile="18600005678", cif="P0002"),
        "c": CustomerFactory(rm=rm, branch=org_world.b1, name="丙客户", mobile="13700001234", cif="P0003"),
        "d": CustomerFactory(rm=rm, branch=org_world.b1, name="丁客户", mobile="", cif="5678"),  # the CIF matches exactly
        "other": CustomerFactory(rm=org_world.other_rm, branch=org_world.b1, name="戊客户", mobile="13500005678",
                                 cif="P0005"),
    }


def test_list_finds_customers_by_the_last_four_digits_of_their_mobile(org_world, phones):
    client = Client()
    client.force_login(org_world.rm)
    page = client.get(reverse("customers:list"), {"q": "5678"})
    found = {c.pk for c in page.context["page"].object_list}
    # what a 4-digit query matched before (an exact CIF) plus the mobiles ending in it, in the RM's book only
    assert found == {phones["a"].pk, phones["b"].pk, phones["d"].pk}
    html = page.content.decode()
    assert "139****5678" in html and "186****5678" in html  # the masked mobile shows the matched digits
    assert "13912345678" not in html


def test_api_search_finds_the_mobile_suffix_too(org_world, phones):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(org_world.sup_b1)
    body = client.get("/api/v1/customers/", {"q": "5678"}).json()
    assert {r["cif"] for r in body["results"]} == {"P0001", "P0002", "5678", "P0005"}


def test_the_suffix_search_can_use_the_index(org_world, phones):
    sql, params = selectors.customer_search(Customer.objects.all(), "5678").query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")  # a tiny table: ask whether the index applies at all
        cur.execute("EXPLAIN " + sql, params)
        plan = "\n".join(r[0] for r in cur.fetchall())
    assert "cust_mobile_suffix" in plan, plan
