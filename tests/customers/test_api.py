"""The customers API (/api/v1/): filters, ordering, pagination, masking, the one error format, API keys,
and query counts that do not grow with the page size."""

import datetime as dt
import json
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers import rules
from customers.constants import LifecycleStage, TaskStatus
from customers.models import Customer, CustomerChange, FollowUpTask, Interaction
from org.constants import Scope
from org.models import ApiKeyUse, PiiAccessLog

from .builders import (
    CustomerFactory,
    FinancialSnapshotFactory,
    FollowUpTaskFactory,
    HoldingFactory,
    InteractionFactory,
    make_resident_id,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 22, 10, 30, tzinfo=SHANGHAI)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def ho(world, client_for):
    return client_for(world.ho_user)


def ids(response):
    return [row["id"] for row in response.json()["results"]]


def assert_error(response, status, code=None, fields=()):
    """The one error format: {code, detail, errors: {field: [messages]}}."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "detail", "errors"}, body
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["errors"], dict)
    # flat: name → a non-empty list of strings; an item of a list is named "tags[2]"
    for name, messages in body["errors"].items():
        assert isinstance(name, str) and messages and isinstance(messages, list), body
        assert all(isinstance(m, str) and m for m in messages), body
    if code:
        assert body["code"] == code, body
    for field in fields:
        assert field in body["errors"], body
    return body


def new_customer_payload(world, **over):
    data = {
        "cif": "C800000001", "kind": "individual", "name": "林晓峰", "id_type": "resident_id",
        "id_number": make_resident_id(dt.date(1988, 3, 8), "M"), "mobile": "13912345678",
        "branch": world.b1.pk, "rm": world.rm.pk, "tags": ["代发"],
    }
    data.update(over)
    return data


# --- list: shape, filters, ordering, pagination ---

class TestCustomerList:
    def test_pagination_shape(self, world, ho):
        r = ho.get(f"{API}/customers/")
        assert r.status_code == 200
        body = r.json()
        assert set(body) >= {"count", "count_capped", "next", "results"}
        assert body["count"] == 4 and body["count_capped"] is False and body["next"] is None
        row = body["results"][0]
        assert set(row) == {"id", "cif", "kind", "name", "gender", "birth_date", "id_type", "id_number", "mobile",
                            "credit_code", "lifecycle_stage", "risk_level", "tags", "aum_latest", "last_txn_date",
                            "branch", "rm", "do_not_contact", "updated_at"}

    def test_page_size_and_next(self, world, ho):
        r = ho.get(f"{API}/customers/?page_size=3")
        body = r.json()
        assert len(body["results"]) == 3 and body["next"]
        second = ho.get(body["next"]).json()
        assert len(second["results"]) == 1 and second["next"] is None
        assert not set(ids(r)) & {row["id"] for row in second["results"]}

    def test_page_out_of_range_is_404_in_the_error_format(self, world, ho):
        assert_error(ho.get(f"{API}/customers/?page=99"), 404)

    def test_count_is_capped(self, world, ho, settings):
        settings.CRM_LIST_COUNT_CAP = 2
        body = ho.get(f"{API}/customers/?page_size=1").json()
        assert body["count"] == 2 and body["count_capped"] is True and body["next"]

    @pytest.mark.parametrize(("query", "expected"), [
        ("伟明", ["c_rm"]),  # 2-character fragment from the middle of a name
        ("张伟", ["c_rm"]),
        ("丽娟", ["c_b2"]),
        ("张", ["c_rm"]),  # 1 character: a prefix
        ("明张", []),
    ])
    def test_q_name_fragment(self, world, ho, query, expected):
        r = ho.get(f"{API}/customers/", {"q": query})
        assert sorted(ids(r)) == sorted(world.customers[k].pk for k in expected)

    def test_q_cif_case_insensitive(self, world, ho):
        r = ho.get(f"{API}/customers/", {"q": world.c_rm.cif.lower()})
        assert ids(r) == [world.c_rm.pk]

    def test_q_mobile_with_country_code(self, world, ho):
        m = world.c_rm.mobile
        r = ho.get(f"{API}/customers/", {"q": f"+86 {m[:3]} {m[3:7]} {m[7:]}"})
        assert ids(r) == [world.c_rm.pk]

    def test_q_id_number(self, world, ho):
        r = ho.get(f"{API}/customers/", {"q": world.c_rm.id_number.lower()})
        assert ids(r) == [world.c_rm.pk]

    def test_q_respects_scope(self, world, client_for):
        r = client_for(world.rm).get(f"{API}/customers/", {"q": world.customers["c_b2"].cif})
        assert ids(r) == []

    def test_lifecycle_stage(self, world, ho):
        Customer.objects.filter(pk=world.customers["c_b2"].pk).update(lifecycle_stage=LifecycleStage.MATURITY)
        r = ho.get(f"{API}/customers/", {"lifecycle_stage": "maturity"})
        assert ids(r) == [world.customers["c_b2"].pk]

    def test_bad_filter_value_is_400(self, world, ho):
        assert_error(ho.get(f"{API}/customers/", {"lifecycle_stage": "nirvana"}), 400, "validation_error",
                     ["lifecycle_stage"])

    def test_tag(self, world, ho):
        r = ho.get(f"{API}/customers/", {"tag": "VIP"})
        assert sorted(ids(r)) == sorted([world.c_rm.pk, world.customers["c_b2"].pk])

    def test_branch_includes_subtree(self, world, ho):
        r = ho.get(f"{API}/customers/", {"branch": world.b1.pk})
        assert sorted(ids(r)) == sorted(world.customers[k].pk for k in ("c_rm", "c_rm_outlet", "c_other"))
        r = ho.get(f"{API}/customers/", {"branch": world.b1a.pk})
        assert ids(r) == [world.customers["c_rm_outlet"].pk]

    def test_key_filters_by_branch_and_rm(self, world, full_key_client):
        r = full_key_client.get(f"{API}/customers/", {"branch": world.b1a.pk})
        assert r.status_code == 200, r.content
        assert ids(r) == [world.customers["c_rm_outlet"].pk]
        r = full_key_client.get(f"{API}/customers/", {"rm": world.rm_b2.pk})
        assert r.status_code == 200, r.content
        assert ids(r) == [world.customers["c_b2"].pk]

    def test_rm(self, world, ho):
        r = ho.get(f"{API}/customers/", {"rm": world.rm.pk})
        assert sorted(ids(r)) == sorted([world.c_rm.pk, world.customers["c_rm_outlet"].pk])

    def test_aum_range(self, world, ho):
        r = ho.get(f"{API}/customers/", {"aum_min": "100000", "aum_max": "600000"})
        assert sorted(ids(r)) == sorted([world.c_rm.pk, world.customers["c_other"].pk])

    def test_default_ordering_is_aum_descending(self, world, ho):
        c = world.customers
        assert ids(ho.get(f"{API}/customers/")) == [c["c_b2"].pk, c["c_rm"].pk, c["c_other"].pk, c["c_rm_outlet"].pk]

    def test_ordering(self, world, ho):
        c = world.customers
        assert ids(ho.get(f"{API}/customers/?ordering=aum_latest")) == [
            c["c_rm_outlet"].pk, c["c_other"].pk, c["c_rm"].pk, c["c_b2"].pk]
        by_cif = sorted(c.values(), key=lambda x: x.cif)
        assert ids(ho.get(f"{API}/customers/?ordering=cif")) == [x.pk for x in by_cif]
        assert ids(ho.get(f"{API}/customers/?ordering=-cif")) == [x.pk for x in reversed(by_cif)]

    def test_ordering_ties_are_stable(self, world, ho):
        Customer.objects.update(aum_latest=Decimal(1))
        first = ids(ho.get(f"{API}/customers/?ordering=aum_latest&page_size=2"))
        second = ids(ho.get(f"{API}/customers/?ordering=aum_latest&page_size=2&page=2"))
        assert len(set(first + second)) == 4

    def test_unknown_ordering_field_is_ignored(self, world, ho):
        assert ho.get(f"{API}/customers/?ordering=id_number").status_code == 200


# --- masking ---

class TestMasking:
    def test_list_masked_for_staff(self, world, ho):
        row = next(r for r in ho.get(f"{API}/customers/").json()["results"] if r["id"] == world.c_rm.pk)
        assert row["mobile"] == rules.mask_mobile(world.c_rm.mobile) != world.c_rm.mobile
        assert row["id_number"] == rules.mask_id_number(world.c_rm.id_number)
        assert len(row["id_number"]) == 18 and "*" in row["id_number"]

    def test_detail_masked_for_staff(self, world, client_for):
        body = client_for(world.rm).get(f"{API}/customers/{world.c_rm.pk}/").json()
        assert body["mobile"] == rules.mask_mobile(world.c_rm.mobile)
        assert body["id_number"] == rules.mask_id_number(world.c_rm.id_number)
        assert body["branch_name"] == world.b1.name
        assert "name_bigrams" not in body

    def test_masked_for_key_without_pii_read(self, world, read_key_client):
        row = next(r for r in read_key_client.get(f"{API}/customers/").json()["results"] if r["id"] == world.c_rm.pk)
        assert row["mobile"] == rules.mask_mobile(world.c_rm.mobile)
        body = read_key_client.get(f"{API}/customers/{world.c_rm.pk}/").json()
        assert body["id_number"] == rules.mask_id_number(world.c_rm.id_number)
        holding = read_key_client.get(f"{API}/holdings/{world.holdings['c_rm'].pk}/").json()
        assert holding["account_no"] == rules.mask_account_no(world.holdings["c_rm"].account_no)

    def test_full_values_for_key_with_pii_read(self, world, pii_key_client):
        row = next(r for r in pii_key_client.get(f"{API}/customers/").json()["results"] if r["id"] == world.c_rm.pk)
        assert row["mobile"] == world.c_rm.mobile
        assert row["id_number"] == world.c_rm.id_number
        body = pii_key_client.get(f"{API}/customers/{world.c_rm.pk}/").json()
        assert body["mobile"] == world.c_rm.mobile and body["id_number"] == world.c_rm.id_number
        holding = pii_key_client.get(f"{API}/holdings/{world.holdings['c_rm'].pk}/").json()
        assert holding["account_no"] == world.holdings["c_rm"].account_no

    def test_holdings_masked_for_staff(self, world, ho):
        rows = ho.get(f"{API}/holdings/").json()["results"]
        for row in rows:
            assert "*" in row["account_no"] and len(row["account_no"]) == 19


# --- create / update ---

class TestCustomerWrite:
    def test_create(self, world, client_for, frozen):
        r = client_for(world.sup_b1).post(f"{API}/customers/", new_customer_payload(world), format="json")
        assert r.status_code == 201, r.content
        body = r.json()
        assert body["mobile"] == "139****5678"
        c = Customer.objects.get(pk=body["id"])
        assert c.gender == "M" and c.birth_date == dt.date(1988, 3, 8)
        assert CustomerChange.objects.get(customer=c).source == "api"

    def test_create_with_formatted_mobile(self, world, client_for):
        r = client_for(world.sup_b1).post(f"{API}/customers/", new_customer_payload(world, mobile="+86 139-1234-5678"),
                                          format="json")
        assert r.status_code == 201, r.content
        assert Customer.objects.get(cif="C800000001").mobile == "13912345678"

    def test_create_by_key_is_logged(self, world, full_key_client):
        r = full_key_client.post(f"{API}/customers/", new_customer_payload(world), format="json")
        assert r.status_code == 201, r.content
        change = CustomerChange.objects.get(customer_id=r.json()["id"])
        assert change.api_key == full_key_client.api_key and change.actor is None

    def test_key_limited_to_branch_cannot_create_elsewhere(self, world, key_client):
        client = key_client(branch=world.b2)
        assert_error(client.post(f"{API}/customers/", new_customer_payload(world), format="json"), 400,
                     "validation_error", ["branch"])
        assert not Customer.objects.filter(cif="C800000001").exists()
        r = client.post(f"{API}/customers/", new_customer_payload(world, branch=world.b2.pk, rm=world.rm_b2.pk),
                        format="json")
        assert r.status_code == 201, r.content

    def test_bad_id_number(self, world, ho):
        r = ho.post(f"{API}/customers/", new_customer_payload(world, id_number="110105194912310021"), format="json")
        assert_error(r, 400, "validation_error", ["id_number"])

    @pytest.mark.parametrize(("language", "fragment"), [("en", "check character"), ("zh-hans", "校验位")])
    def test_error_messages_follow_the_language(self, world, ho, language, fragment):
        r = ho.post(f"{API}/customers/", new_customer_payload(world, id_number="110105194912310021"), format="json",
                    HTTP_ACCEPT_LANGUAGE=language)
        assert fragment in assert_error(r, 400)["errors"]["id_number"][0]

    def test_id_birth_date_mismatch(self, world, ho):
        r = ho.post(f"{API}/customers/", new_customer_payload(world, birth_date="1988-03-09"), format="json")
        assert_error(r, 400, "validation_error", ["birth_date"])

    def test_duplicate_cif(self, world, ho):
        r = ho.post(f"{API}/customers/", new_customer_payload(world, cif=world.c_rm.cif), format="json")
        assert_error(r, 400, "validation_error", ["cif"])

    def test_unknown_field(self, world, ho):
        r = ho.post(f"{API}/customers/", new_customer_payload(world, favourite_colour="red"), format="json",
                    HTTP_ACCEPT_LANGUAGE="en")
        body = assert_error(r, 400, "validation_error", ["favourite_colour"])
        assert body["errors"]["favourite_colour"] == ["Unknown field."]

    @pytest.mark.parametrize(("field", "value"), [
        ("tags", "VIP"),
        ("consent_sms", "maybe"),
        ("birth_date", 19880308),
        ("branch", "B1"),
        ("name", {"first": "晓峰"}),
        ("kind", "alien"),
        ("tags", [f"t{i}" for i in range(21)]),
    ])
    def test_wrong_types(self, world, ho, field, value):
        r = ho.post(f"{API}/customers/", new_customer_payload(world, **{field: value}), format="json")
        assert_error(r, 400, "validation_error", [field])

    @pytest.mark.parametrize(("tags", "names"), [
        ([["nested"]], ["tags[0]"]),
        (["ok", "x" * 31, "fine", {"a": 1}], ["tags[1]", "tags[3]"]),
    ])
    def test_errors_on_list_items_are_named_by_index(self, world, ho, tags, names):
        """The documented shape: errors is name → [strings]; an item of a list is "tags[1]", never a nested
        object (which broke the schema: errors.tags was {"1": [...]})."""
        r = ho.post(f"{API}/customers/", new_customer_payload(world, tags=tags), format="json")
        body = assert_error(r, 400, "validation_error", names)
        assert sorted(body["errors"]) == names

    def test_invalid_json_body(self, world, ho):
        r = ho.post(f"{API}/customers/", data=b'{"cif": "C1", ', content_type="application/json")
        assert_error(r, 400, "parse_error")

    def test_json_array_body(self, world, ho):
        r = ho.post(f"{API}/customers/", data=json.dumps([1, 2]), content_type="application/json")
        assert_error(r, 400, "validation_error")

    @pytest.mark.parametrize(("field", "size"), [("notes", 2001), ("name", 101), ("address", 201), ("cif", 33)])
    def test_oversized_text(self, world, ho, field, size):
        r = ho.post(f"{API}/customers/", new_customer_payload(world, **{field: "长" * size}), format="json")
        assert_error(r, 400, "validation_error", [field])

    def test_patch(self, world, client_for):
        r = client_for(world.rm).patch(f"{API}/customers/{world.c_rm.pk}/", {"occupation": "教师"}, format="json")
        assert r.status_code == 200, r.content
        assert r.json()["occupation"] == "教师"
        change = CustomerChange.objects.get(customer=world.c_rm)
        assert change.changes == {"occupation": ["", "教师"]} and change.source == "api"

    def test_patch_rm_cannot_hand_over(self, world, client_for):
        r = client_for(world.rm).patch(f"{API}/customers/{world.c_rm.pk}/", {"rm": world.other_rm.pk}, format="json")
        assert_error(r, 400, "validation_error", ["rm"])

    def test_patch_supervisor_cannot_move_out_of_subtree(self, world, client_for):
        r = client_for(world.sup_b1).patch(f"{API}/customers/{world.c_rm.pk}/",
                                           {"branch": world.b2.pk, "rm": world.rm_b2.pk}, format="json")
        assert_error(r, 400, "validation_error", ["branch"])

    def test_put_needs_required_fields(self, world, ho):
        r = ho.put(f"{API}/customers/{world.c_rm.pk}/", {"occupation": "教师"}, format="json")
        assert_error(r, 400, "validation_error", ["cif", "name"])

    def test_put_full(self, world, ho):
        c = world.c_rm
        data = {"cif": c.cif, "kind": c.kind, "name": "张伟民", "id_type": c.id_type, "id_number": c.id_number,
                "mobile": c.mobile, "branch": c.branch_id, "rm": c.rm_id}
        r = ho.put(f"{API}/customers/{c.pk}/", data, format="json")
        assert r.status_code == 200, r.content
        c.refresh_from_db()
        assert c.name == "张伟民" and c.name_bigrams == ["伟民", "张伟"]


# --- reveal ---

class TestReveal:
    def test_staff_reveal_is_logged(self, world, client_for):
        r = client_for(world.rm).post(f"{API}/customers/{world.c_rm.pk}/reveal/",
                                      {"field": "mobile", "reason": "other", "reason_detail": "回访核对"}, format="json")
        assert r.status_code == 200, r.content
        assert r.json() == {"field": "mobile", "value": world.c_rm.mobile}
        log = PiiAccessLog.objects.get()
        assert (log.user, log.customer_id, log.field, log.reason) == (world.rm, world.c_rm.pk, "mobile",
                                                                        "other: 回访核对")

    def test_key_with_pii_read_reveal_logs_key(self, world, pii_key_client):
        r = pii_key_client.post(f"{API}/customers/{world.c_rm.pk}/reveal/",
                                {"field": "id_number", "reason": "account_servicing"}, format="json")
        assert r.status_code == 200
        log = PiiAccessLog.objects.get()
        assert (log.api_key, log.reason) == (pii_key_client.api_key, "account_servicing")

    def test_key_without_pii_read_is_403(self, world, read_key_client):
        r = read_key_client.post(f"{API}/customers/{world.c_rm.pk}/reveal/",
                                 {"field": "mobile", "reason": "account_servicing"}, format="json")
        assert_error(r, 403, "permission_denied")
        assert not PiiAccessLog.objects.exists()

    @pytest.mark.parametrize(("body", "field"), [
        ({"field": "name", "reason": "account_servicing"}, "field"),
        ({"field": "account_no", "reason": "account_servicing"}, "field"), ({}, "field"),
        ({"field": "mobile", "reason": "account_servicing", "x": 1}, "x"),
        ({"field": "mobile"}, "reason"), ({"field": "mobile", "reason": "回访核对"}, "reason"),
        ({"field": "mobile", "reason": "other"}, "reason_detail"),
        ({"field": "mobile", "reason": "other", "reason_detail": " "}, "reason_detail"),
        ({"field": "mobile", "reason": "other", "reason_detail": "r" * 151}, "reason_detail")])
    def test_bad_reveal_request(self, world, ho, body, field):
        r = ho.post(f"{API}/customers/{world.c_rm.pk}/reveal/", body, format="json")
        assert_error(r, 400, "validation_error")
        assert field in r.json()["errors"], r.json()
        assert not PiiAccessLog.objects.exists()

    def test_reveals_are_throttled_per_user_and_key(self, world, client_for, pii_key_client, settings):
        settings.CRM_REVEAL_RATE = "2/h"
        url, body = f"{API}/customers/{world.c_rm.pk}/reveal/", {"field": "mobile", "reason": "customer_request"}
        rm = client_for(world.rm)
        assert [rm.post(url, body, format="json").status_code for _ in range(2)] == [200, 200]
        r = rm.post(url, body, format="json")
        assert_error(r, 429, "throttled")
        assert int(r["Retry-After"]) > 0 and "value" not in r.json()
        assert PiiAccessLog.objects.count() == 2
        assert pii_key_client.post(url, body, format="json").status_code == 200  # a key counts on its own


# --- authentication and API keys ---

class TestApiKeys:
    def test_use_is_logged(self, world, read_key_client):
        r = read_key_client.get(f"{API}/customers/{world.c_rm.pk}/")
        assert r.status_code == 200
        use = ApiKeyUse.objects.get()
        assert use.key == read_key_client.api_key
        assert (use.method, use.path, use.status) == ("GET", f"{API}/customers/{world.c_rm.pk}/", 200)

    def test_refused_use_is_logged_too(self, world, read_key_client):
        r = read_key_client.post(f"{API}/customers/", new_customer_payload(world), format="json")
        assert r.status_code == 403
        assert ApiKeyUse.objects.get().status == 403

    def test_staff_requests_are_not_key_uses(self, world, ho):
        ho.get(f"{API}/customers/")
        assert not ApiKeyUse.objects.exists()

    def test_revoked_key_rejected(self, world, read_key_client):
        read_key_client.api_key.revoked = True
        read_key_client.api_key.save()
        r = read_key_client.get(f"{API}/customers/")
        assert_error(r, 401, "authentication_failed")
        assert r["WWW-Authenticate"] == "Api-Key"

    def test_expired_key_rejected(self, world, key_client):
        client = key_client(scopes=[Scope.CUSTOMERS_READ], expiry_date=timezone.now() - dt.timedelta(seconds=1))
        r = client.get(f"{API}/customers/")
        assert_error(r, 401, "authentication_failed")
        assert r["WWW-Authenticate"] == "Api-Key"

    def test_key_expires_while_in_use(self, world, key_client):
        client = key_client(scopes=[Scope.CUSTOMERS_READ], expiry_date=timezone.now() + dt.timedelta(hours=1))
        assert client.get(f"{API}/customers/").status_code == 200
        with time_machine.travel(timezone.now() + dt.timedelta(hours=2)):
            assert_error(client.get(f"{API}/customers/"), 401, "authentication_failed")

    @pytest.mark.parametrize("header", ["Api-Key nonsense", "Api-Key abcdefgh.notthekey", "Api-Key "])
    def test_unknown_key_rejected(self, world, api_client, header):
        api_client.credentials(HTTP_AUTHORIZATION=header)
        r = api_client.get(f"{API}/customers/")
        assert_error(r, 401, "authentication_failed")
        assert r["WWW-Authenticate"] == "Api-Key"

    def test_bad_key_is_401_with_challenge(self, world, api_client):
        api_client.credentials(HTTP_AUTHORIZATION="Api-Key abcdefgh.notthekey")
        r = api_client.get(f"{API}/customers/")
        assert_error(r, 401, "authentication_failed")
        assert r["WWW-Authenticate"] == "Api-Key"

    def test_anonymous(self, world, api_client):
        r = api_client.get(f"{API}/customers/")
        assert_error(r, 401, "not_authenticated")
        assert r["WWW-Authenticate"] == "Api-Key"

    def test_key_without_scope_is_403(self, world, key_client):
        client = key_client(scopes=[Scope.SEGMENTS_READ])
        for url in (f"{API}/customers/", f"{API}/snapshots/", f"{API}/holdings/", f"{API}/interactions/",
                    f"{API}/tasks/"):
            assert_error(client.get(url), 403, "permission_denied")

    def test_key_limited_to_branch_lists_only_its_subtree(self, world, key_client):
        client = key_client(branch=world.b1)
        expected = {world.customers[k].pk for k in ("c_rm", "c_rm_outlet", "c_other")}
        assert set(ids(client.get(f"{API}/customers/"))) == expected
        assert_error(client.get(f"{API}/customers/{world.customers['c_b2'].pk}/"), 404, "not_found")

    def test_not_found(self, world, ho):
        assert_error(ho.get(f"{API}/customers/999999999/"), 404, "not_found")
        assert_error(ho.get(f"{API}/customers/abc/"), 404)
        assert_error(ho.get(f"{API}/tasks/999999999/"), 404, "not_found")


# --- snapshots, holdings, interactions, tasks ---

class TestSubResources:
    def test_snapshots_list_and_filter(self, world, ho):
        FinancialSnapshotFactory(customer=world.c_rm, period=dt.date(2026, 8, 1))
        r = ho.get(f"{API}/snapshots/", {"cif": world.c_rm.cif})
        body = r.json()
        assert body["count"] == 2
        assert [row["period"] for row in body["results"]] == ["2026-09-01", "2026-08-01"]
        assert body["results"][0]["cif"] == world.c_rm.cif
        r = ho.get(f"{API}/snapshots/", {"customer": world.c_rm.pk, "period_to": "2026-08-31"})
        assert [row["period"] for row in r.json()["results"]] == ["2026-08-01"]

    def test_snapshot_detail(self, world, ho):
        snap = world.snapshots["c_rm"]
        body = ho.get(f"{API}/snapshots/{snap.pk}/").json()
        assert body["aum"] == "120000.00" and body["customer"] == world.c_rm.pk

    def test_snapshots_read_only(self, world, ho, full_key_client):
        assert_error(ho.post(f"{API}/snapshots/", {"customer": world.c_rm.pk}, format="json"), 405)
        # a key meets the scope check first: no scope is named for a method the view does not have
        r = full_key_client.post(f"{API}/snapshots/", {"customer": world.c_rm.pk}, format="json")
        assert_error(r, 403, "permission_denied")

    def test_holdings_filter(self, world, ho):
        HoldingFactory(customer=world.c_rm, product_type="fund", product_name="稳健债基")
        r = ho.get(f"{API}/holdings/", {"customer": world.c_rm.pk, "product_type": "fund"})
        assert [row["product_name"] for row in r.json()["results"]] == ["稳健债基"]
        assert_error(ho.get(f"{API}/holdings/", {"product_type": "gold"}), 400, "validation_error", ["product_type"])

    def test_interaction_create_with_follow_up(self, world, client_for, frozen):
        r = client_for(world.rm).post(f"{API}/interactions/", {
            "customer": world.c_rm.pk, "channel": "visit", "occurred_at": "2026-11-22T09:00:00+08:00",
            "outcome": "interested", "notes": "有理财需求", "next_follow_up": "2026-11-29"}, format="json")
        assert r.status_code == 201, r.content
        body = r.json()
        assert body["staff"] == world.rm.pk
        task = FollowUpTask.objects.get(source_interaction_id=body["id"])
        assert task.assignee == world.rm and task.due_date == dt.date(2026, 11, 29) and task.status == "open"

    def test_interaction_create_by_key(self, world, full_key_client, frozen):
        r = full_key_client.post(f"{API}/interactions/", {
            "customer": world.c_rm.pk, "channel": "sms", "occurred_at": "2026-11-22T09:00:00+08:00",
            "outcome": "reached"}, format="json")
        assert r.status_code == 201, r.content
        assert r.json()["staff"] is None

    @pytest.mark.parametrize(("over", "field"), [
        ({"occurred_at": "2026-11-23T09:00:00+08:00"}, "occurred_at"),
        ({"next_follow_up": "2026-11-21"}, "next_follow_up"),
        ({"channel": "pigeon"}, "channel"),
        ({"notes": "x" * 2001}, "notes"),
        ({"staff": 1}, "staff"),
    ])
    def test_interaction_invalid(self, world, client_for, frozen, over, field):
        data = {"customer": world.c_rm.pk, "channel": "visit", "occurred_at": "2026-11-22T09:00:00+08:00",
                "outcome": "reached", **over}
        before = Interaction.objects.count()
        assert_error(client_for(world.rm).post(f"{API}/interactions/", data, format="json"), 400,
                     "validation_error", [field])
        assert Interaction.objects.count() == before

    def test_since_with_extreme_utc_offset_is_not_a_server_error(self, world, ho):
        r = ho.get(f"{API}/interactions/", {"since": "2026-01-01T00:00:00-23:04"})
        assert r.status_code == 200, r.content  # a valid offset: 2026-01-01 23:04 UTC, before every interaction
        assert r.json()["count"] == len(world.interactions)

    def test_interactions_filter(self, world, ho):
        r = ho.get(f"{API}/interactions/", {"customer": world.c_rm.pk})
        assert [row["id"] for row in r.json()["results"]] == [world.interactions["c_rm"].pk]
        assert r.json()["results"][0]["staff_name"] == str(world.rm)

    def test_task_create(self, world, client_for, frozen):
        r = client_for(world.sup_b1).post(f"{API}/tasks/", {"customer": world.c_rm.pk, "title": "送台历",
                                                            "due_date": "2026-12-01"}, format="json")
        assert r.status_code == 201, r.content
        assert r.json()["assignee"] == world.rm.pk and r.json()["status"] == "open"

    def test_task_create_past_due(self, world, client_for, frozen):
        r = client_for(world.rm).post(f"{API}/tasks/", {"customer": world.c_rm.pk, "title": "x",
                                                        "due_date": "2026-11-21"}, format="json")
        assert_error(r, 400, "validation_error", ["due_date"])

    def test_task_complete_then_conflict(self, world, client_for, frozen):
        client = client_for(world.rm)
        task = world.tasks["c_rm"]
        r = client.post(f"{API}/tasks/{task.pk}/complete/", {"outcome": "已办结"}, format="json")
        assert r.status_code == 200, r.content
        assert r.json()["status"] == TaskStatus.DONE and r.json()["outcome"] == "已办结"
        assert_error(client.post(f"{API}/tasks/{task.pk}/complete/", {}, format="json"), 409, "conflict")
        assert_error(client.post(f"{API}/tasks/{task.pk}/snooze/", {"until": "2030-02-01"}, format="json"), 409,
                     "conflict")

    def test_task_snooze(self, world, client_for, frozen):
        client = client_for(world.rm)
        task = world.tasks["c_rm"]
        r = client.post(f"{API}/tasks/{task.pk}/snooze/", {"until": "2030-02-01"}, format="json")
        assert r.status_code == 200 and r.json()["due_date"] == "2030-02-01"
        assert_error(client.post(f"{API}/tasks/{task.pk}/snooze/", {"until": "2026-11-21"}, format="json"), 400,
                     "validation_error", ["due_date"])
        assert_error(client.post(f"{API}/tasks/{task.pk}/snooze/", {"until": "soon"}, format="json"), 400,
                     "validation_error", ["until"])

    def test_tasks_filter(self, world, client_for):
        client = client_for(world.sup_b1)
        r = client.get(f"{API}/tasks/", {"assignee": world.rm.pk, "status": "open"})
        assert {row["customer"] for row in r.json()["results"]} == {world.c_rm.pk, world.customers["c_rm_outlet"].pk}


# --- query counts: constant in the page size ---

def _make_rows(world, n, kind):
    customers = CustomerFactory.create_batch(n, rm=world.rm, branch=world.b1)
    for c in customers:
        if kind == "snapshots":
            FinancialSnapshotFactory(customer=c, period=dt.date(2026, 9, 1))
        elif kind == "holdings":
            HoldingFactory(customer=c)
        elif kind == "interactions":
            InteractionFactory(customer=c)
        elif kind == "tasks":
            FollowUpTaskFactory(customer=c)


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(url)
    assert r.status_code == 200, r.content
    return len(ctx.captured_queries), r


LIST_ENDPOINTS = ["customers", "snapshots", "holdings", "interactions", "tasks"]


@pytest.mark.parametrize("who", ["ho_user", "sup_b1", "rm", "full_key"])
@pytest.mark.parametrize("endpoint", LIST_ENDPOINTS)
def test_list_query_count_does_not_grow_with_page_size(world, client_for, key_client, django_assert_num_queries,
                                                       django_assert_max_num_queries, endpoint, who):
    client = key_client() if who == "full_key" else client_for(getattr(world, who))
    url = f"{API}/{endpoint}/?page_size="
    _make_rows(world, 3, endpoint)  # with the world's own rows: at least 5 visible to every principal
    small, r = _queries(client, url + "5")
    assert len(r.json()["results"]) == 5
    _make_rows(world, 50, endpoint)
    with django_assert_num_queries(small):
        r = client.get(url + "50")
    assert len(r.json()["results"]) == 50
    with django_assert_max_num_queries(10):
        client.get(url + "200")
