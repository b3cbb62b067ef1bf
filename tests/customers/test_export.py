"""CSV export of the customer list: a permission of its own, masked, logged."""

import pytest
from django.test import Client
from django.urls import reverse

from org.models import PiiAccessLog


def export(user, query=""):
    client = Client()
    client.force_login(user)
    return client.get(reverse("customers:export") + query)


@pytest.mark.parametrize("who", ["rm", "other_rm", "co_b1"])
def test_export_is_refused_without_the_permission(world, who):
    assert export(getattr(world, who)).status_code == 403
    assert not PiiAccessLog.objects.exists()


def test_supervisor_exports_only_their_subtree_masked_and_logged(world):
    response = export(world.sup_b1)
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    lines = body.strip().splitlines()
    assert len(lines) == 1 + 3  # header + the three customers of B1 and its outlet
    assert world.customers["c_b2"].cif not in body
    c = world.customers["c_rm"]
    assert c.mobile not in body and c.id_number not in body
    assert c.mobile[:3] + "****" + c.mobile[-4:] in body
    log = PiiAccessLog.objects.get()
    assert log.user == world.sup_b1 and log.field == "export"


def test_export_follows_the_list_filters(world):
    body = b"".join(export(world.ho_user, "?tag=VIP").streaming_content).decode()
    assert len(body.strip().splitlines()) == 1 + 2


def test_export_query_count_is_constant(world, django_assert_max_num_queries):
    client = Client()
    client.force_login(world.ho_user)
    with django_assert_max_num_queries(8):
        b"".join(client.get(reverse("customers:export")).streaming_content)
