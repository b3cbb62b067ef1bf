"""No silent lost updates through the API (issue 9 §9): ETag / If-Match on a customer, and tag changes that
add and remove without replacing the list (20 parallel "add one tag" requests leave 20 tags)."""

import threading

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from customers import services
from customers.ingest.customers import customers_upsert
from customers.models import Customer, CustomerChange

from ..org.builders import ALL_SCOPES, ApiKeyFactory
from .builders import CustomerFactory
from .test_api import API, assert_error


@pytest.fixture
def ho(world, client_for):
    return client_for(world.ho_user)


def url(customer, suffix=""):
    return f"{API}/customers/{customer.pk}/{suffix}"


@pytest.mark.django_db(transaction=True)  # the version is the writing transaction's id: one per request
class TestETag:
    def test_detail_carries_a_strong_etag_that_changes_with_every_write(self, world, ho):
        c = world.c_rm
        first = ho.get(url(c))
        etag = first["ETag"]
        assert etag.startswith(f'"{c.pk}-') and etag.endswith('"')
        assert ho.get(url(c))["ETag"] == etag  # stable while nothing changes
        patched = ho.patch(url(c), {"occupation": "教师"}, format="json")
        assert patched.status_code == 200
        assert patched["ETag"] != etag
        assert ho.get(url(c))["ETag"] == patched["ETag"]  # the answer's ETag is the stored version

    def test_etag_changes_when_a_bulk_upsert_writes_the_row(self, world, ho):
        c = world.c_rm
        etag = ho.get(url(c))["ETag"]
        customers_upsert([{"cif": c.cif, "occupation": "律师"}],
                             actor=world.ho_user, today=timezone.localdate(), source="api")
        assert ho.get(url(c))["ETag"] != etag

    def test_stale_if_match_is_412_and_changes_nothing(self, world, ho, client_for):
        c = world.c_rm
        etag = ho.get(url(c))["ETag"]
        assert client_for(world.rm).patch(url(c), {"occupation": "教师"}, format="json").status_code == 200
        r = ho.patch(url(c), {"occupation": "医生"}, format="json", HTTP_IF_MATCH=etag)
        assert_error(r, 412, "precondition_failed")
        c.refresh_from_db()
        assert c.occupation == "教师"
        assert CustomerChange.objects.filter(customer=c).count() == 1

    @pytest.mark.parametrize("method", ["put", "patch"])
    def test_matching_if_match_succeeds(self, world, ho, method):
        c = world.c_rm
        etag = ho.get(url(c))["ETag"]
        data = {"cif": c.cif, "kind": c.kind, "name": "张伟民", "id_type": c.id_type, "id_number": c.id_number,
                "mobile": c.mobile, "branch": c.branch_id, "rm": c.rm_id}
        r = getattr(ho, method)(url(c), data, format="json", HTTP_IF_MATCH=etag)
        assert r.status_code == 200, r.content
        assert r["ETag"] != etag
        # the old ETag is stale now
        r = getattr(ho, method)(url(c), data, format="json", HTTP_IF_MATCH=etag)
        assert_error(r, 412, "precondition_failed")

    @pytest.mark.parametrize("header", ['W/"{pk}-{v}"', '"999999-{v}"', "garbage", '"{pk}-x"'])
    def test_weak_foreign_or_malformed_tags_never_match(self, world, ho, header):
        c = world.c_rm
        v = services.customer_version(Customer.objects.get(pk=c.pk))
        r = ho.patch(url(c), {"occupation": "医生"}, format="json", HTTP_IF_MATCH=header.format(pk=c.pk, v=v))
        assert_error(r, 412, "precondition_failed")

    def test_star_and_one_of_several_tags_match(self, world, ho):
        c = world.c_rm
        etag = ho.get(url(c))["ETag"]
        assert ho.patch(url(c), {"occupation": "医生"}, format="json",
                        HTTP_IF_MATCH=f'"{c.pk}-1", {etag}').status_code == 200
        assert ho.patch(url(c), {"occupation": "教师"}, format="json", HTTP_IF_MATCH="*").status_code == 200

    def test_without_if_match_the_change_is_made(self, world, ho):
        r = ho.patch(url(world.c_rm), {"occupation": "医生"}, format="json")
        assert r.status_code == 200 and r["ETag"]

    def test_if_match_can_be_required(self, world, ho, settings):
        settings.API_REQUIRE_IF_MATCH = True
        c = world.c_rm
        assert_error(ho.patch(url(c), {"occupation": "医生"}, format="json"), 428, "precondition_required")
        etag = ho.get(url(c))["ETag"]
        assert ho.patch(url(c), {"occupation": "医生"}, format="json", HTTP_IF_MATCH=etag).status_code == 200

    def test_service_checks_the_version_under_the_row_lock(self, world):
        """A caller that read version v writes only while the row is still at v (no read before the write)."""
        c = Customer.objects.get(pk=world.c_rm.pk)
        v = services.customer_version(c)
        services.customer_update(actor=world.ho_user, customer=c, data={"occupation": "教师"},
                                 today=timezone.localdate(), expected_version=v)
        with pytest.raises(services.PreconditionFailed):
            services.customer_update(actor=world.ho_user, customer=c, data={"occupation": "医生"},
                                     today=timezone.localdate(), expected_version=v)

    def test_tags_change_with_a_stale_if_match_is_412(self, world, ho):
        c = world.c_rm
        etag = ho.get(url(c))["ETag"]
        ho.patch(url(c), {"occupation": "医生"}, format="json")
        assert_error(ho.post(url(c, "tags/"), {"add": ["新客"]}, format="json", HTTP_IF_MATCH=etag), 412)

    def test_create_answers_with_the_etag(self, world, ho):
        from .test_api import new_customer_payload

        r = ho.post(f"{API}/customers/", new_customer_payload(world), format="json")
        assert r.status_code == 201, r.content
        assert r["ETag"] == ho.get(f"{API}/customers/{r.json()['id']}/")["ETag"]


@pytest.mark.django_db
class TestTagsChange:
    def test_add_and_remove_keep_the_others(self, world, ho):
        c = world.c_rm
        Customer.objects.filter(pk=c.pk).update(tags=["代发", "高净值"])
        r = ho.post(url(c, "tags/"), {"add": ["新客", " ", ""], "remove": ["代发", "不存在"]}, format="json")
        assert r.status_code == 200, r.content
        assert r.json()["tags"] == sorted(["高净值", "新客"])
        assert r["ETag"]
        change = CustomerChange.objects.get(customer=c)
        assert change.changes == {"tags": [["代发", "高净值"], sorted(["高净值", "新客"])]} and change.source == "api"

    def test_nothing_to_change_writes_no_history(self, world, ho):
        c = world.c_rm
        Customer.objects.filter(pk=c.pk).update(tags=["代发"])
        assert ho.post(url(c, "tags/"), {"add": ["代发"]}, format="json").status_code == 200
        assert not CustomerChange.objects.filter(customer=c).exists()

    def test_rules_as_on_the_form(self, world, ho):
        c = world.c_rm
        body = assert_error(ho.post(url(c, "tags/"), {"add": ["好", "长" * 31]}, format="json"), 400,
                            "validation_error", ["add[1]"])
        assert body["errors"]["add[1]"] == [body["errors"]["add[1]"][0]]
        Customer.objects.filter(pk=c.pk).update(tags=[f"t{i}" for i in range(20)])
        assert_error(ho.post(url(c, "tags/"), {"add": ["第二十一"]}, format="json"), 400, "validation_error", ["add"])
        assert_error(ho.post(url(c, "tags/"), {"add": "代发"}, format="json"), 400, "validation_error", ["add"])
        assert_error(ho.post(url(c, "tags/"), {"tag": ["代发"]}, format="json"), 400, "validation_error", ["tag"])

    def test_out_of_scope_is_404_and_rm_of_another_book_cannot_change(self, world, client_for):
        r = client_for(world.other_rm).post(url(world.c_rm, "tags/"), {"add": ["x"]}, format="json")
        assert_error(r, 404, "not_found")

    def test_key_needs_write_scope(self, world, key_client):
        from org.constants import Scope

        r = key_client(scopes=[Scope.CUSTOMERS_READ]).post(url(world.c_rm, "tags/"), {"add": ["x"]}, format="json")
        assert_error(r, 403)


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_adds_leave_twenty_tags(world):
    """20 clients, each on its own thread and database connection, each add one tag at the same moment."""
    customer = CustomerFactory(branch=world.b1, rm=world.rm, tags=[])
    key = ApiKeyFactory(scopes=list(ALL_SCOPES))
    barrier = threading.Barrier(20)
    statuses, errors = [], []

    def add(i):
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key.raw_key}")
            barrier.wait(timeout=30)
            statuses.append(client.post(url(customer, "tags/"), {"add": [f"标签{i:02d}"]}, format="json").status_code)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == [] and statuses == [200] * 20
    customer.refresh_from_db()
    assert customer.tags == sorted(f"标签{i:02d}" for i in range(20))
    assert CustomerChange.objects.filter(customer=customer).count() == 20
