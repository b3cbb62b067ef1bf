"""Bulk upserts from core banking (issue 3 §1, §2, §5 and "Bad input"):
POST /api/v1/customers/bulk/, /snapshots/bulk/ and /holdings/bulk/ with {"records": [...]}.

Every rule is proved through the HTTP API: the per-batch report (created / updated / unchanged /
rejected, and index + key + field + reason per rejected record), good records stored next to bad ones,
nothing written for a rejected record, re-sending changes nothing, history old → new, bad input of every
kind as a precise per-record error (never a 500), the identity rules, scopes, the key-use log, the
latest-AUM figure, Idempotency-Key, and a query count that does not grow with the batch.
Concurrent batches are in tests/integration/test_bulk_concurrency.py.
"""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from core.models import IdempotencyRecord
from customers import rules, selectors
from customers.models import Customer, CustomerChange, FinancialSnapshot, Holding
from org.constants import Scope
from org.models import ApiKeyUse

from ..org.builders import RMFactory, SupervisorFactory
from .builders import CustomerFactory, make_credit_code, make_resident_id

pytestmark = pytest.mark.django_db

API = "/api/v1"
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 22, 10, 30, tzinfo=SHANGHAI)
TODAY = NOW.date()
WRITE_SCOPES = [Scope.CUSTOMERS_WRITE, Scope.SNAPSHOTS_WRITE]


# --------------------------------------------------------------------------------------------------
# Helpers and fixtures
# --------------------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def key(key_client):
    """A key with every scope and no branch limit; messages in English."""
    return english(key_client())


@pytest.fixture
def b1_key(key_client, world):
    """A write key limited to branch B1 (and its outlet B1A)."""
    return english(key_client(scopes=WRITE_SCOPES, branch=world.b1))


@pytest.fixture
def ho(world, client_for):
    return english(client_for(world.ho_user))


def bulk(client, kind, records, **extra):
    return client.post(f"{API}/{kind}/bulk/", {"records": records}, format="json", **extra)


def ok(response) -> dict:
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"created", "updated", "unchanged", "rejected", "errors"}, body
    return body


def counts(body) -> tuple:
    return body["created"], body["updated"], body["unchanged"], body["rejected"]


def errors_of(body) -> dict:
    """{(index, field): reason}; each error row also carries the record's key."""
    out = {}
    for e in body["errors"]:
        assert set(e) == {"index", "key", "field", "reason"}, e
        assert isinstance(e["reason"], str) and e["reason"], e
        out[(e["index"], e["field"])] = e["reason"]
    return out


def keys_of(body) -> dict:
    return {e["index"]: e["key"] for e in body["errors"]}


def assert_error(response, status, code=None):
    """The one error format of the API: {code, detail, errors}."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "detail", "errors"}, body
    assert isinstance(body["detail"], str) and body["detail"]
    if code:
        assert body["code"] == code, body
    return body


def new(cif, **over):
    """A minimal valid new individual customer in B1 (``over`` may replace any field, even the CIF)."""
    return {"cif": cif, "name": "林晓峰", "branch": "B1"} | over


def resident_id_ending_x() -> str:
    for seq in range(1, 500):
        rid = make_resident_id(dt.date(1990, 5, 17), "F", seq=seq)
        if rid.endswith("X"):
            return rid
    raise AssertionError("no ID with check character X found")


def history(customer) -> list[dict]:
    return list(CustomerChange.objects.filter(customer=customer).order_by("id").values_list("changes", flat=True))


# --------------------------------------------------------------------------------------------------
# The report, partial acceptance, re-sending, history
# --------------------------------------------------------------------------------------------------
class TestCustomerReport:
    def test_mixed_batch_counts_and_errors(self, world, key):
        c_rm, c_other, c_outlet = world.c_rm, world.customers["c_other"], world.customers["c_rm_outlet"]
        outlet_address = c_outlet.address
        records = [
            new("N0001", mobile="13912340001"),                                # created
            {"cif": c_rm.cif, "address": "福州市鼓楼区五四路1号"},                # updated
            {"cif": c_other.cif, "name": c_other.name},                        # unchanged
            new("N0002", mobile="12345"),                                      # rejected: mobile
            {"cif": c_outlet.cif, "address": "新地址", "mobile": "999"},         # rejected: nothing written
            new("N0003", consent_sms="maybe", birth_date="2030-01-01"),        # rejected: two fields
        ]
        body = ok(bulk(key, "customers", records))
        assert counts(body) == (1, 1, 1, 3)
        errors = errors_of(body)
        assert set(errors) == {(3, "mobile"), (4, "mobile"), (5, "consent_sms"), (5, "birth_date")}
        assert "mainland mobile" in errors[(3, "mobile")]
        assert "true or false" in errors[(5, "consent_sms")]
        assert "future" in errors[(5, "birth_date")]
        assert keys_of(body) == {3: {"cif": "N0002"}, 4: {"cif": c_outlet.cif}, 5: {"cif": "N0003"}}
        assert set(Customer.objects.filter(cif__startswith="N").values_list("cif", flat=True)) == {"N0001"}
        c_rm.refresh_from_db()
        assert c_rm.address == "福州市鼓楼区五四路1号"
        c_outlet.refresh_from_db()
        assert c_outlet.address == outlet_address  # the good field of a rejected record is not written either

    def test_resending_the_same_batch_changes_nothing(self, world, key):
        records = [new(f"R{i:04d}", mobile=f"1391234{i:04d}", tags=["代发", "VIP"]) for i in range(20)]
        records.append({"cif": world.c_rm.cif, "address": "厦门市思明区", "tags": ["VIP"]})
        first = ok(bulk(key, "customers", records))
        assert counts(first) == (20, 1, 0, 0)
        n_history = CustomerChange.objects.count()
        stamps = dict(Customer.objects.values_list("cif", "updated_at"))
        again = ok(bulk(key, "customers", records))
        assert counts(again) == (0, 0, 21, 0) and again["errors"] == []
        assert CustomerChange.objects.count() == n_history
        assert dict(Customer.objects.values_list("cif", "updated_at")) == stamps  # not even touched

    def test_keys_are_case_and_space_insensitive_on_resend(self, world, key):
        ok(bulk(key, "customers", [new("ab0001")]))
        body = ok(bulk(key, "customers", [new(" AB0001 ")]))
        assert counts(body) == (0, 0, 1, 0)
        assert list(Customer.objects.filter(cif__iexact="ab0001").values_list("cif", flat=True)) == ["AB0001"]

    def test_history_records_old_and_new_of_changed_fields_only(self, world, key):
        c = world.c_rm
        old_address, old_tags = c.address, c.tags
        body = ok(bulk(key, "customers", [{"cif": c.cif, "name": c.name, "mobile": c.mobile,
                                             "address": "新地址", "tags": ["代发"], "consent_sms": True}]))
        assert counts(body) == (0, 1, 0, 0)
        change = CustomerChange.objects.get(customer=c)
        assert change.changes == {"address": [old_address, "新地址"], "tags": [sorted(old_tags), ["代发"]],
                                  "consent_sms": [False, True]}
        assert change.source == "api" and change.api_key_id == key.api_key.pk and change.actor_id is None

    def test_history_of_branch_and_rm_changes_uses_ids(self, world, key):
        c = world.c_rm
        ok(bulk(key, "customers", [{"cif": c.cif, "branch": "B1A", "rm": "other_rm"}]))
        assert history(c) == [{"branch_id": [world.b1.pk, world.b1a.pk], "rm_id": [world.rm.pk, world.other_rm.pk]}]

    def test_history_of_dates_and_of_values_that_were_null(self, world, key):
        c = world.c_rm
        Customer.objects.filter(pk=c.pk).update(risk_assessed_on=None, risk_level="C1", rm=None)
        ok(bulk(key, "customers", [{"cif": c.cif, "risk_assessed_on": "2026-01-05", "risk_level": "C3", "rm": "rm",
                                    "consent_sms": False}]))
        assert history(c) == [{"risk_assessed_on": [None, "2026-01-05"], "risk_level": ["C1", "C3"],
                               "rm_id": [None, world.rm.pk]}]

    def test_created_customer_has_one_history_row(self, world, key):
        ok(bulk(key, "customers", [new("H0001", address="福州")]))
        c = Customer.objects.get(cif="H0001")
        rows = CustomerChange.objects.filter(customer=c)
        assert rows.count() == 1 and rows[0].source == "api" and rows[0].api_key_id == key.api_key.pk

    def test_created_customer_history_lists_initial_values(self, world, key):
        ok(bulk(key, "customers", [new("H0002", address="福州")]))
        c = Customer.objects.get(cif="H0002")
        row = CustomerChange.objects.get(customer=c)
        assert row.created and row.changes == {}  # stored without values: rebuilt when shown
        [entry] = selectors.customer_history(c)
        assert entry.changes["name"] == [None, "林晓峰"] and entry.changes["address"] == [None, "福州"]
        assert entry.changes["branch_id"] == [None, world.b1.pk] and "email" not in entry.changes

    def test_creation_values_are_those_before_later_changes(self, world, key):
        ok(bulk(key, "customers", [new("H0003", address="福州", tags=["代发"])]))
        ok(bulk(key, "customers", [{"cif": "H0003", "address": "厦门", "tags": [], "occupation": "教师"}]))
        ok(bulk(key, "customers", [{"cif": "H0003", "address": "泉州", "consent_sms": True}]))
        c = Customer.objects.get(cif="H0003")
        latest, middle, created = selectors.customer_history(c)
        assert latest.changes == {"address": ["厦门", "泉州"], "consent_sms": [False, True]}
        assert middle.changes == {"address": ["福州", "厦门"], "tags": [["代发"], []], "occupation": ["", "教师"]}
        assert created.created and created.changes["address"] == [None, "福州"]
        assert created.changes["tags"] == [None, ["代发"]]
        assert "occupation" not in created.changes and "consent_sms" not in created.changes

    def test_absent_and_null_fields_keep_stored_values(self, world, key):
        c = world.c_rm
        before = Customer.objects.filter(pk=c.pk).values().get()
        body = ok(bulk(key, "customers", [{"cif": c.cif, "email": None, "mobile": None, "tags": None,
                                             "rm": None, "branch": None, "birth_date": None,
                                             "consent_sms": None, "occupation": "教师"}]))
        assert counts(body) == (0, 1, 0, 0)
        after = Customer.objects.filter(pk=c.pk).values().get()
        changed = {k for k in before if before[k] != after[k]}
        assert changed == {"occupation", "updated_at"}
        assert history(c) == [{"occupation": ["", "教师"]}]

    def test_empty_string_clears_a_text_field(self, world, key):
        c = world.c_rm
        Customer.objects.filter(pk=c.pk).update(occupation="医生", email="a@example.com")
        ok(bulk(key, "customers", [{"cif": c.cif, "occupation": "", "email": ""}]))
        c.refresh_from_db()
        assert c.occupation == "" and c.email == ""
        assert history(c) == [{"occupation": ["医生", ""], "email": ["a@example.com", ""]}]

    def test_columns_differ_between_records(self, world, key):
        """One record sends a field, the next does not (absent there): each keeps what it did not send."""
        c_rm, c_other = world.c_rm, world.customers["c_other"]
        other_address = c_other.address
        body = ok(bulk(key, "customers", [{"cif": c_rm.cif, "address": "甲地"},
                                           {"cif": c_other.cif, "occupation": "律师"}]))
        assert counts(body) == (0, 2, 0, 0)
        c_other.refresh_from_db()
        assert c_other.address == other_address and c_other.occupation == "律师"

    def test_text_that_looks_like_the_copy_null_marker_is_stored_as_text(self, world, key):
        body = ok(bulk(key, "customers", [new("Q0001", name="\\N", address="\\N", occupation="NULL")]))
        assert counts(body) == (1, 0, 0, 0)
        c = Customer.objects.get(cif="Q0001")
        assert (c.name, c.address, c.occupation) == ("\\N", "\\N", "NULL")

    def test_text_with_csv_specials_round_trips(self, world, key):
        text = '甲,"乙"\n丙\t丁\\'
        ok(bulk(key, "customers", [new("Q0002", address=text[:200], notes=text, tags=['a,b', 'c"d', "{e}"])]))
        c = Customer.objects.get(cif="Q0002")
        assert c.address == text and c.notes == text and c.tags == sorted(['a,b', 'c"d', "{e}"])

    def test_empty_batch(self, world, key):
        assert counts(ok(bulk(key, "customers", []))) == (0, 0, 0, 0)


# --------------------------------------------------------------------------------------------------
# Bad input: request level
# --------------------------------------------------------------------------------------------------
class TestBadRequest:
    @pytest.mark.parametrize("kind", ["customers", "snapshots", "holdings"])
    def test_invalid_json_is_400_in_the_error_format(self, world, key, kind):
        r = key.post(f"{API}/{kind}/bulk/", data=b'{"records": [{"cif": "A"', content_type="application/json")
        body = assert_error(r, 400, "parse_error")
        assert "JSON" in body["detail"]

    @pytest.mark.parametrize("raw", [b"[]", b'[{"cif": "A"}]', b'"records"', b"42", b"null", b"{}",
                                     b'{"records": {"cif": "A"}}', b'{"records": "A"}', b'{"records": null}',
                                     b'{"record": []}'])
    @pytest.mark.parametrize("kind", ["customers", "snapshots", "holdings"])
    def test_body_must_be_an_object_with_a_list_of_records(self, world, key, kind, raw):
        r = key.post(f"{API}/{kind}/bulk/", data=raw, content_type="application/json")
        body = assert_error(r, 400, "validation_error")
        assert "records" in body["errors"]

    def test_form_body_is_400(self, world, key):
        r = key.post(f"{API}/customers/bulk/", data="records=1", content_type="application/x-www-form-urlencoded")
        assert_error(r, 400, "validation_error")

    def test_unsupported_media_type(self, world, key):
        assert_error(key.post(f"{API}/customers/bulk/", data="{}", content_type="text/plain"), 415)

    @pytest.mark.parametrize("kind", ["customers", "snapshots", "holdings"])
    def test_more_than_5000_records_is_413_with_a_clear_message(self, world, key, kind):
        records = [{"cif": f"C{i}"} for i in range(5001)]
        body = assert_error(bulk(key, kind, records), 413, "payload_too_large")
        assert "5,000" in body["detail"] and "5,001" in body["detail"]
        assert not Customer.objects.filter(cif="C0").exists()

    def test_exactly_5000_records_are_accepted(self, world, key):
        body = ok(bulk(key, "customers", [new(f"M{i:05d}") for i in range(5000)]))
        assert counts(body) == (5000, 0, 0, 0)

    def test_body_over_the_upload_limit_is_413(self, world, key, settings):
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
        body = assert_error(bulk(key, "customers", [new(f"L{i:04d}") for i in range(100)]), 413,
                            "payload_too_large")
        assert "5,000" in body["detail"]
        assert not Customer.objects.filter(cif__startswith="L").exists()

    def test_get_is_not_allowed(self, world, ho):
        assert_error(ho.get(f"{API}/customers/bulk/"), 405)


# --------------------------------------------------------------------------------------------------
# Bad input: per record (customers)
# --------------------------------------------------------------------------------------------------
class TestBadCustomerRecords:
    def test_records_that_are_not_objects(self, world, key):
        body = ok(bulk(key, "customers", [1, "x", None, [], new("G0001"), True]))
        assert counts(body) == (1, 0, 0, 5)
        errors = errors_of(body)
        for i in (0, 1, 2, 3, 5):
            assert "JSON object" in errors[(i, "non_field_errors")]

    def test_a_batch_of_only_non_objects_is_reported(self, world, key):
        body = ok(bulk(key, "customers", [1, None]))
        assert counts(body) == (0, 0, 0, 2)

    def test_empty_objects_are_missing_their_cif(self, world, key):
        body = ok(bulk(key, "customers", [{}, {}]))
        assert counts(body) == (0, 0, 0, 2)
        assert "CIF" in errors_of(body)[(0, "cif")]

    @pytest.mark.parametrize("cif", [None, "", "   "])
    def test_missing_cif(self, world, key, cif):
        record = new("X") | {"cif": cif}
        body = ok(bulk(key, "customers", [record, new("G0002")]))
        assert counts(body) == (1, 0, 0, 1)
        assert errors_of(body)[(0, "cif")] == "Every record needs its CIF."
        assert body["errors"][0]["key"] == {"cif": None}

    def test_record_without_cif_key(self, world, key):
        body = ok(bulk(key, "customers", [{"name": "无号", "branch": "B1"}]))
        assert errors_of(body) == {(0, "cif"): "Every record needs its CIF."}

    @pytest.mark.parametrize(("field", "value", "fragment"), [
        ("cif", 12345, "Enter text"),
        ("name", 5, "Enter text"),
        ("name", ["林"], "Enter text"),
        ("name", {"zh": "林"}, "Enter text"),
        ("address", True, "Enter text"),
        ("consent_sms", "maybe", "true or false"),
        ("consent_email", 2, "true or false"),
        ("do_not_contact", [], "true or false"),
        ("birth_date", ["1988-03-08"], "YYYY-MM-DD"),
        ("birth_date", 19880308, "YYYY-MM-DD"),
        ("birth_date", "1988/03/08", "YYYY-MM-DD"),
        ("birth_date", "1988-02-30", "YYYY-MM-DD"),
        ("birth_date", "1988-03-08xyz", "YYYY-MM-DD"),
        ("birth_date", "2030-01-01", "future"),
        ("risk_assessed_on", "2026-11-23", "future"),
        ("tags", 5, "tags"),
        ("tags", [1, 2], "tags"),
        ("tags", ["a\x00b"], "tags"),
        ("tags", [f"t{i}" for i in range(21)], "20 tags"),
        ("tags", ["x" * 31], "30 characters"),
        ("kind", "alien", "Not a valid choice"),
        ("kind", "", "blank"),
        ("lifecycle_stage", "", "blank"),
        ("lifecycle_stage", "nirvana", "Not a valid choice"),
        ("gender", "X", "Not a valid choice"),
        ("risk_level", "C9", "Not a valid choice"),
        ("income_band", 3, "Enter text"),
        ("branch", True, "branch"),
        ("branch", 1.5, "branch"),
        ("branch", "NOPE", "branch"),
        ("rm", "nobody", "relationship manager"),
        ("rm", ["rm"], "relationship manager"),
        ("email", "not-an-email", "email"),
        ("email", "a@b", "email"),
        ("mobile", 13912345678, "Enter text"),
        ("mobile", "12345678901", "mainland mobile"),
        ("mobile", "+1 415 555 0100", "mainland mobile"),
        ("name", "林\x00晓峰", "Null characters"),
        ("address", "\x00", "Null characters"),
        ("cif", "C\x00001", "Null characters"),
        ("name", "林" * 101, "at most 100 characters"),
        ("cif", "C" * 33, "at most 32 characters"),
        ("address", "路" * 201, "at most 200 characters"),
        ("notes", "注" * 2001, "at most 2000 characters"),
        ("name", "", "blank"),
        ("unknown_field", "x", "Unknown field"),
        ("aum_latest", "100", "Unknown field"),
        ("id", 5, "Unknown field"),
    ])
    def test_wrong_value_is_a_precise_error_and_nothing_is_written(self, world, key, field, value, fragment):
        record = new("B0001") | {field: value}
        body = ok(bulk(key, "customers", [new("B0000"), record]))
        assert counts(body) == (1, 0, 0, 1), body
        errors = errors_of(body)
        assert (1, field) in errors, body
        assert fragment.lower() in errors[(1, field)].lower(), errors
        assert not Customer.objects.filter(cif__in=["B0001", "C" * 33]).exists()

    @pytest.mark.parametrize(("field", "value"), [("name", 5), ("mobile", "123"), ("birth_date", "1988-02-30"),
                                                  ("email", "bad"), ("kind", ""), ("tags", [1]),
                                                  ("unknown_field", 1)])
    def test_bad_value_on_an_existing_customer_writes_nothing(self, world, key, field, value):
        c = world.c_rm
        before = Customer.objects.filter(pk=c.pk).values().get()
        body = ok(bulk(key, "customers", [{"cif": c.cif, "address": "应不写入", field: value}]))
        assert counts(body) == (0, 0, 0, 1)
        assert Customer.objects.filter(pk=c.pk).values().get() == before
        assert not CustomerChange.objects.filter(customer=c).exists()

    def test_unknown_field_with_null_value_is_ignored(self, world, key):
        assert counts(ok(bulk(key, "customers", [new("U0001", legacy_code=None)]))) == (1, 0, 0, 0)

    @pytest.mark.parametrize(("value", "stored"), [(True, True), (False, False), ("true", True), ("false", False),
                                                   ("TRUE", True), (1, True), (0, False)])
    def test_boolean_forms(self, world, key, value, stored):
        ok(bulk(key, "customers", [new("T0001", consent_sms=value)]))
        assert Customer.objects.get(cif="T0001").consent_sms is stored

    def test_tags_are_trimmed_deduplicated_and_sorted(self, world, key):
        ok(bulk(key, "customers", [new("T0002", tags=[" VIP", "代发", "VIP", " "])]))
        assert Customer.objects.get(cif="T0002").tags == ["VIP", "代发"]

    def test_duplicate_keys_in_one_batch_are_all_rejected(self, world, key):
        body = ok(bulk(key, "customers", [new("DUP1", address="一"), new("G0003"), new("dup1 ", address="二"),
                                           {"cif": world.c_rm.cif, "address": "甲"},
                                           {"cif": world.c_rm.cif.lower(), "address": "乙"}]))
        assert counts(body) == (1, 0, 0, 4)
        errors = errors_of(body)
        assert {i for i, f in errors if f == "cif"} == {0, 2, 3, 4}
        assert "more than once" in errors[(0, "cif")]
        assert not Customer.objects.filter(cif="DUP1").exists()
        assert Customer.objects.get(pk=world.c_rm.pk).address not in ("甲", "乙")

    def test_new_customer_needs_name_and_branch(self, world, key):
        body = ok(bulk(key, "customers", [{"cif": "NB01"}]))
        errors = errors_of(body)
        assert set(errors) == {(0, "name"), (0, "branch")}

    def test_risk_level_needs_an_assessment_date(self, world, key):
        body = ok(bulk(key, "customers", [new("RK01", risk_level="C3"),
                                           new("RK02", risk_level="C3", risk_assessed_on="2026-01-05")]))
        assert counts(body) == (1, 0, 0, 1)
        assert (0, "risk_assessed_on") in errors_of(body)

    def test_errors_are_never_a_server_error_for_a_kitchen_sink_batch(self, world, key):
        """Every kind of bad record together in one batch, next to good ones."""
        weird = [None, 0, 1.5, "", [], {}, {"cif": {"a": 1}}, {"cif": ["x"]}, {"cif": True},
                 {"cif": "K1", "name": None, "branch": None}, {"cif": "K2", "name": "名", "branch": "B1",
                                                             "birth_date": "0000-00-00"},
                 {"cif": "K3", "name": "名", "branch": "B1", "tags": "a;b|c，d"},
                 {"cif": "K4", "name": "名", "branch": "B1", "mobile": "+86 139 1234 0000"},
                 {"cif": "K5", "name": "名", "branch": 10 ** 30}, {"cif": "K6", "name": "名", "branch": -1},
                 {"cif": "K7", "name": "名", "branch": "B1", "rm": 10 ** 20}]
        body = ok(bulk(key, "customers", weird))
        assert body["created"] == 2  # K3 and K4
        assert Customer.objects.get(cif="K3").tags == ["a", "b", "c", "d"]
        assert body["rejected"] == len(weird) - 2


# --------------------------------------------------------------------------------------------------
# Identity rules (customers.rules): resident IDs, credit codes, mobiles
# --------------------------------------------------------------------------------------------------
class TestIdentityRules:
    def test_lowercase_x_is_accepted_and_stored_upper_case(self, world, key):
        rid = resident_id_ending_x()
        body = ok(bulk(key, "customers", [new("I0001", id_type="resident_id", id_number=rid.lower())]))
        assert counts(body) == (1, 0, 0, 0), body
        c = Customer.objects.get(cif="I0001")
        assert c.id_number == rid

    def test_birth_date_and_gender_are_taken_from_the_id(self, world, key):
        rid = make_resident_id(dt.date(1988, 3, 8), "M")
        ok(bulk(key, "customers", [new("I0002", id_type="resident_id", id_number=rid)]))
        c = Customer.objects.get(cif="I0002")
        assert c.birth_date == dt.date(1988, 3, 8) and c.gender == "M"

    def test_15_digit_id_is_converted_to_18(self, world, key):
        old = "110105880308123"
        body = ok(bulk(key, "customers", [new("I0003", id_type="resident_id", id_number=old)]))
        assert counts(body) == (1, 0, 0, 0), body
        c = Customer.objects.get(cif="I0003")
        assert c.id_number == rules.resident_id_from_15(old) and len(c.id_number) == 18
        assert c.birth_date == dt.date(1988, 3, 8) and c.gender == "M"

    def test_15_digit_passport_number_is_not_converted(self, world, key):
        ok(bulk(key, "customers", [new("I0004", id_type="passport", id_number="123456789012345"),
                                   new("I0005", id_type="passport", id_number="e1234567 8")]))
        assert Customer.objects.get(cif="I0004").id_number == "123456789012345"
        assert Customer.objects.get(cif="I0005").id_number == "E12345678"

    def test_spaces_in_the_id_are_removed(self, world, key):
        rid = make_resident_id(dt.date(1975, 1, 2), "F")
        ok(bulk(key, "customers", [new("I0005", id_type="resident_id", id_number=f"{rid[:6]} {rid[6:14]} {rid[14:]}")]))
        assert Customer.objects.get(cif="I0005").id_number == rid

    @pytest.mark.parametrize(("id_number", "over", "field", "fragment"), [
        ("bad-checksum", {}, "id_number", "check character"),
        ("11010519880308051", {}, "id_number", "18 characters"),
        ("1101051988030805AB", {}, "id_number", "18 characters"),
        ("110105198802300518", {}, "id_number", "real birth date"),
        ("110105203001010518", {}, "id_number", "future"),
        ("same", {"birth_date": "1988-03-09"}, "birth_date", "does not match"),
        ("same", {"gender": "F"}, "gender", "does not match"),
        ("same", {"id_type": ""}, "id_type", "type of the ID"),
    ])
    def test_id_rules(self, world, key, id_number, over, field, fragment):
        good = make_resident_id(dt.date(1988, 3, 8), "M")
        if id_number == "same":
            id_number = good
        elif id_number == "bad-checksum":
            id_number = good[:17] + ("0" if good[17] != "0" else "1")
        elif id_number.startswith("110105203001010"):
            id_number = id_number[:17] + rules.resident_id_check_char(id_number[:17])
        record = new("I0100", id_type="resident_id", id_number=id_number) | over
        body = ok(bulk(key, "customers", [record]))
        assert counts(body) == (0, 0, 0, 1), body
        assert fragment in errors_of(body)[(0, field)]

    @pytest.mark.parametrize(("id_type", "id_number", "fragment"), [
        ("passport", "<SCRIPT SRC=//x.example/a.js>", "5–17 letters and digits"),
        ("passport", "E123", "5–17 letters and digits"),
        ("hk_macao_permit", "<img src=x onerror=alert(1)>", "H or M and 8 digits"),
        ("hk_macao_permit", "K12345678", "H or M and 8 digits"),
        ("taiwan_permit", '"><svg onload=alert(1)>', "8 digits"),
        ("foreign_pr", "US350081010012", "3 letters and 12 digits"),
        ("foreign_pr", "931140198501010010", "check character"),
    ])
    def test_other_id_types_are_checked_to_their_format(self, world, key, id_type, id_number, fragment):
        if fragment == "check character":  # a 2023 permanent resident ID with a wrong check character
            right = rules.resident_id_check_char(id_number[:17])
            id_number = id_number[:17] + ("0" if right != "0" else "1")
        body = ok(bulk(key, "customers", [new("I0200", id_type=id_type, id_number=id_number),
                                          new("I0201", id_type="passport", id_number="e1234567 8")]))
        assert counts(body) == (1, 0, 0, 1), body
        assert fragment in errors_of(body)[(0, "id_number")]
        assert not Customer.objects.filter(cif="I0200").exists()

    def test_other_id_types_are_stored_compact_and_upper(self, world, key):
        pr = "93114019850101001" + rules.resident_id_check_char("93114019850101001")
        body = ok(bulk(key, "customers", [
            new("I0210", id_type="hk_macao_permit", id_number="h 1234 5678"),
            new("I0211", id_type="taiwan_permit", id_number="12345678（b）"),
            new("I0212", id_type="foreign_pr", id_number="usa350081010012"),
            new("I0213", id_type="foreign_pr", id_number=pr)]))
        assert counts(body) == (4, 0, 0, 0), body
        assert dict(Customer.objects.filter(cif__startswith="I021").values_list("cif", "id_number")) == {
            "I0210": "H12345678", "I0211": "12345678(B)", "I0212": "USA350081010012", "I0213": pr}

    def test_a_corporate_id_number_needs_a_type_and_its_format_too(self, world, key):
        code = make_credit_code(8)
        body = ok(bulk(key, "customers", [
            {"cif": "K0300", "kind": "corporate", "name": "某公司", "branch": "B1", "credit_code": code,
             "id_number": "<b>x</b>"},
            {"cif": "K0301", "kind": "corporate", "name": "某公司", "branch": "B1", "credit_code": code,
             "id_type": "passport", "id_number": "<b>x</b>"}]))
        assert counts(body) == (0, 0, 0, 2), body
        assert (0, "id_type") in errors_of(body) and (1, "id_number") in errors_of(body)

    def test_changing_the_id_of_an_existing_customer_is_checked_against_its_stored_birth_date(self, world, key):
        c = world.c_rm  # factory customer: valid ID with matching birth date
        other = make_resident_id(c.birth_date + dt.timedelta(days=1), c.gender)
        body = ok(bulk(key, "customers", [{"cif": c.cif, "id_number": other}]))
        assert (0, "birth_date") in errors_of(body)
        c.refresh_from_db()
        assert c.id_number != other

    def test_corporate_credit_code(self, world, key):
        code = make_credit_code(7)
        body = ok(bulk(key, "customers", [
            new("K0001", kind="corporate", credit_code=code.lower()),
            new("K0002", kind="corporate"),
            new("K0003", kind="corporate", credit_code=code[:17] + ("0" if code[17] != "0" else "1")),
            new("K0004", kind="corporate", credit_code="91350100MA2YXXXXXI"),
            new("K0005", kind="corporate", credit_code="123"),
            new("K0006", credit_code=code),  # an individual
        ]))
        assert counts(body) == (1, 0, 0, 5), body
        assert Customer.objects.get(cif="K0001").credit_code == code
        errors = errors_of(body)
        assert "needs its unified social credit code" in errors[(1, "credit_code")]
        assert "check character" in errors[(2, "credit_code")]
        # one message per rule, as the single-record service words it (rules.credit_code_format_message)
        assert errors[(3, "credit_code")] == ("A unified social credit code cannot contain: I (I, O, Z, S and V are "
                                              "never used).")
        assert errors[(4, "credit_code")] == "A unified social credit code has 18 characters."
        assert "Only corporate" in errors[(5, "credit_code")]

    @pytest.mark.parametrize(("given", "stored"), [
        ("13912345678", "13912345678"), ("+86 139 1234 5678", "13912345678"), ("+8613912345678", "13912345678"),
        ("0086-139-1234-5678", "13912345678"), ("(139) 1234 5678", "13912345678"), ("", ""),
    ])
    def test_mobile_is_normalised(self, world, key, given, stored):
        body = ok(bulk(key, "customers", [new("P0001", mobile=given)]))
        assert counts(body) == (1, 0, 0, 0), body
        assert Customer.objects.get(cif="P0001").mobile == stored

    @pytest.mark.parametrize("given", ["12912345678", "1391234567", "139123456789", "+1 139 1234 5678", "电话",
                                       "+86", "0086 "])
    def test_invalid_mobile(self, world, key, given):
        body = ok(bulk(key, "customers", [new("P0002", mobile=given)]))
        assert "mainland mobile" in errors_of(body)[(0, "mobile")]

    def test_normalised_mobile_resend_is_unchanged(self, world, key):
        ok(bulk(key, "customers", [new("P0003", mobile="+86 139 0000 1111")]))
        assert counts(ok(bulk(key, "customers", [new("P0003", mobile="13900001111")]))) == (0, 0, 1, 0)


# --------------------------------------------------------------------------------------------------
# Branch and relationship manager
# --------------------------------------------------------------------------------------------------
class TestBranchAndRm:
    @pytest.mark.parametrize("branch", ["B1", " B1 ", "id", "id-as-text"])
    @pytest.mark.parametrize("rm", ["rm", "id", "id-as-text"])
    def test_by_code_or_id(self, world, key, branch, rm):
        b = {"id": world.b1.pk, "id-as-text": str(world.b1.pk)}.get(branch, branch)
        r = {"id": world.rm.pk, "id-as-text": str(world.rm.pk)}.get(rm, rm)
        body = ok(bulk(key, "customers", [new("BR01", branch=b, rm=r)]))
        assert counts(body) == (1, 0, 0, 0), body
        c = Customer.objects.get(cif="BR01")
        assert c.branch_id == world.b1.pk and c.rm_id == world.rm.pk

    def test_rm_must_work_in_the_customers_branch(self, world, key):
        body = ok(bulk(key, "customers", [new("BR02", rm="rm_b2"), new("BR03", branch="B1A", rm="rm"),
                                           new("BR04", branch="HO", rm="rm")]))
        assert counts(body) == (1, 0, 0, 2)
        errors = errors_of(body)
        assert "does not work in the customer's branch" in errors[(0, "rm")]
        assert "does not work in the customer's branch" in errors[(2, "rm")]
        assert Customer.objects.get(cif="BR03").rm_id == world.rm.pk  # an outlet under the RM's branch

    def test_moving_a_customer_checks_its_stored_rm(self, world, key):
        c = world.c_rm
        body = ok(bulk(key, "customers", [{"cif": c.cif, "branch": "B2"}]))
        assert "does not work" in errors_of(body)[(0, "rm")]
        body = ok(bulk(key, "customers", [{"cif": c.cif, "branch": "B2", "rm": "rm_b2"}]))
        assert counts(body) == (0, 1, 0, 0)

    def test_only_active_rms(self, world, key):
        RMFactory(username="gone", branch=world.b1, is_active=False)
        SupervisorFactory(username="boss", branch=world.b1)
        body = ok(bulk(key, "customers", [new("BR05", rm="gone"), new("BR06", rm="boss"),
                                           new("BR07", rm="sup_b1")]))
        assert counts(body) == (0, 0, 0, 3)
        assert all(f == "rm" for _, f in errors_of(body))

    def test_unknown_branch(self, world, key):
        body = ok(bulk(key, "customers", [new("BR08", branch="XX"), new("BR09", branch=999999)]))
        assert counts(body) == (0, 0, 0, 2)
        assert "Unknown branch" in errors_of(body)[(0, "branch")]


# --------------------------------------------------------------------------------------------------
# Scopes, staff and the key-use log
# --------------------------------------------------------------------------------------------------
class TestScopes:
    @pytest.mark.parametrize("scopes", [[], [Scope.CUSTOMERS_READ], [Scope.SNAPSHOTS_WRITE],
                                        [Scope.CUSTOMERS_READ, Scope.SNAPSHOTS_WRITE, Scope.PII_READ]])
    def test_customers_bulk_needs_customers_write(self, world, key_client, scopes):
        client = key_client(scopes=scopes)
        assert_error(bulk(client, "customers", [new("S0001")]), 403, "permission_denied")
        assert not Customer.objects.filter(cif="S0001").exists()

    @pytest.mark.parametrize("kind", ["snapshots", "holdings"])
    @pytest.mark.parametrize("scopes", [[Scope.CUSTOMERS_WRITE], [Scope.SNAPSHOTS_READ, Scope.CUSTOMERS_WRITE]])
    def test_snapshot_and_holding_bulk_need_snapshots_write(self, world, key_client, kind, scopes):
        assert_error(bulk(key_client(scopes=scopes), kind, []), 403, "permission_denied")

    def test_each_scope_opens_only_its_endpoints(self, world, key_client):
        customers_only = key_client(scopes=[Scope.CUSTOMERS_WRITE])
        assert bulk(customers_only, "customers", []).status_code == 200
        snapshots_only = key_client(scopes=[Scope.SNAPSHOTS_WRITE])
        assert bulk(snapshots_only, "snapshots", []).status_code == 200
        assert bulk(snapshots_only, "holdings", []).status_code == 200

    def test_branch_key_creates_only_in_its_subtree(self, world, b1_key):
        body = ok(bulk(b1_key, "customers", [new("S0002"), new("S0003", branch="B1A"),
                                              new("S0004", branch="B2"), new("S0005", branch="HO")]))
        assert counts(body) == (2, 0, 0, 2)
        errors = errors_of(body)
        assert "cannot create or change customers of this branch" in errors[(2, "branch")]
        assert (3, "branch") in errors
        assert set(Customer.objects.filter(cif__startswith="S000").values_list("cif", flat=True)) == {"S0002", "S0003"}

    def test_branch_key_cannot_change_customers_of_another_branch(self, world, b1_key):
        c_b2, c_rm = world.customers["c_b2"], world.c_rm
        b2_address = c_b2.address
        body = ok(bulk(b1_key, "customers", [{"cif": c_b2.cif, "address": "改不了"},
                                              {"cif": c_rm.cif, "address": "能改"}]))
        assert counts(body) == (0, 1, 0, 1)
        assert "cannot create or change this customer" in errors_of(body)[(0, "cif")]
        c_b2.refresh_from_db()
        assert c_b2.address == b2_address
        assert Customer.objects.get(pk=c_rm.pk).address == "能改"

    def test_branch_key_cannot_move_a_customer_out_of_or_into_its_subtree(self, world, b1_key):
        c_rm, c_b2 = world.c_rm, world.customers["c_b2"]
        body = ok(bulk(b1_key, "customers", [{"cif": c_rm.cif, "branch": "B2", "rm": "rm_b2"},
                                              {"cif": c_b2.cif, "branch": "B1", "rm": "rm"}]))
        assert counts(body) == (0, 0, 0, 2)
        errors = errors_of(body)
        assert (0, "branch") in errors and (1, "cif") in errors
        assert Customer.objects.get(pk=c_rm.pk).branch_id == world.b1.pk
        assert Customer.objects.get(pk=c_b2.pk).branch_id == world.b2.pk

    @pytest.mark.parametrize("kind", ["snapshots", "holdings"])
    def test_branch_key_pushes_figures_only_for_its_customers(self, world, b1_key, kind):
        c_rm, c_b2 = world.c_rm, world.customers["c_b2"]
        if kind == "snapshots":
            records = [{"cif": c_b2.cif, "period": "2026-10-01", "aum": "1"},
                       {"cif": c_rm.cif, "period": "2026-10-01", "aum": "2"}]
        else:
            records = [{"cif": c_b2.cif, "account_no": "A1", "product_code": "P", "product_name": "N",
                        "product_type": "deposit"},
                       {"cif": c_rm.cif, "account_no": "A1", "product_code": "P", "product_name": "N",
                        "product_type": "deposit"}]
        body = ok(bulk(b1_key, kind, records))
        assert counts(body) == (1, 0, 0, 1)
        assert "No customer with this CIF in your scope" in errors_of(body)[(0, "cif")]
        model = FinancialSnapshot if kind == "snapshots" else Holding
        assert not model.objects.filter(customer=c_b2).exclude(pk=getattr(world, kind)["c_b2"].pk).exists()

    def test_head_office_staff_may_bulk(self, world, ho):
        body = ok(bulk(ho, "customers", [new("S0010"), {"cif": world.c_rm.cif, "address": "总行改"}]))
        assert counts(body) == (1, 1, 0, 0)
        change = CustomerChange.objects.get(customer=world.c_rm)
        assert change.actor_id == world.ho_user.pk and change.api_key_id is None and change.source == "api"
        assert ok(bulk(ho, "snapshots", [{"cif": world.c_rm.cif, "period": "2026-10-01"}]))["created"] == 1

    @pytest.mark.parametrize("who", ["rm", "sup_b1", "co_b1"])
    @pytest.mark.parametrize("kind", ["customers", "snapshots", "holdings"])
    def test_other_staff_get_403(self, world, client_for, who, kind):
        r = bulk(client_for(getattr(world, who)), kind, [new("S0011")])
        assert_error(r, 403, "permission_denied")
        assert not Customer.objects.filter(cif="S0011").exists()

    @pytest.mark.parametrize("kind", ["customers", "snapshots", "holdings"])
    def test_anonymous_gets_401(self, world, kind):
        r = bulk(APIClient(), kind, [new("S0012")])
        assert_error(r, 401)
        assert r["WWW-Authenticate"] == "Api-Key"

    def test_revoked_key_gets_401(self, world, key):
        key.api_key.revoked = True
        key.api_key.save()
        assert_error(bulk(key, "customers", [new("S0013")]), 401)


class TestKeyUseLog:
    def test_use_is_logged_with_counts(self, world, key):
        bulk(key, "customers", [new("L0001"), {"cif": world.c_rm.cif, "address": "x"},
                                {"cif": world.customers["c_other"].cif}, new("L0002", mobile="1")])
        use = ApiKeyUse.objects.get(key=key.api_key)
        assert use.path == f"{API}/customers/bulk/" and use.method == "POST" and use.status == 200
        assert use.counts == {"created": 1, "updated": 1, "unchanged": 1, "rejected": 1}
        assert use.at is not None

    @pytest.mark.parametrize("kind", ["snapshots", "holdings"])
    def test_figures_uses_are_logged_with_counts(self, world, key, kind):
        bulk(key, kind, [{"cif": "NOPE"}])
        use = ApiKeyUse.objects.get(key=key.api_key)
        assert use.path == f"{API}/{kind}/bulk/" and use.counts == {"created": 0, "updated": 0, "unchanged": 0,
                                                                     "rejected": 1}

    def test_refused_use_is_logged(self, world, key_client):
        client = key_client(scopes=[Scope.CUSTOMERS_READ])
        bulk(client, "customers", [])
        use = ApiKeyUse.objects.get(key=client.api_key)
        assert use.status == 403 and use.counts == {}

    def test_oversize_use_is_logged(self, world, key):
        bulk(key, "customers", [{}] * 5001)
        assert ApiKeyUse.objects.get(key=key.api_key).status == 413


# --------------------------------------------------------------------------------------------------
# Snapshots
# --------------------------------------------------------------------------------------------------
class TestSnapshots:
    def test_create_update_unchanged_and_report(self, world, key):
        c = world.c_rm
        records = [{"cif": c.cif, "period": "2026-10-01", "aum": "600000.00", "deposits": 100, "txn_count": 5,
                    "last_txn_date": "2026-10-30"},
                   {"cif": c.cif, "period": "2026-09-01", "aum": "450000.5"},
                   {"cif": world.customers["c_other"].cif, "period": "2026-09-01"},
                   {"cif": "NOPE", "period": "2026-10-01"}]
        body = ok(bulk(key, "snapshots", records))
        assert counts(body) == (1, 1, 1, 1)
        assert body["errors"] == [{"index": 3, "key": {"cif": "NOPE", "period": "2026-10-01"}, "field": "cif",
                                   "reason": "No customer with this CIF in your scope."}]
        snap = FinancialSnapshot.objects.get(customer=c, period=dt.date(2026, 10, 1))
        assert (snap.aum, snap.deposits, snap.txn_count, snap.last_txn_date) == (
            Decimal("600000.00"), Decimal("100.00"), 5, dt.date(2026, 10, 30))
        assert snap.wealth == Decimal(0)  # a new snapshot's absent fields take the defaults
        old = FinancialSnapshot.objects.get(customer=c, period=dt.date(2026, 9, 1))
        assert old.aum == Decimal("450000.50") and old.deposits == Decimal("60000.00")  # absent: kept
        again = ok(bulk(key, "snapshots", records))
        assert counts(again) == (0, 0, 3, 1)

    def test_aum_latest_follows_the_latest_period(self, world, key):
        c = world.c_rm
        ok(bulk(key, "snapshots", [{"cif": c.cif, "period": "2026-10-01", "aum": "700000",
                                    "last_txn_date": "2026-10-12"}]))
        c.refresh_from_db()
        assert c.aum_latest == Decimal("700000.00") and c.last_txn_date == dt.date(2026, 10, 12)
        # an older period arriving later does not overwrite the latest figure
        ok(bulk(key, "snapshots", [{"cif": c.cif, "period": "2026-08-01", "aum": "1"},
                                   {"cif": c.cif, "period": "2026-09-01", "aum": "2"}]))
        c.refresh_from_db()
        assert c.aum_latest == Decimal("700000.00")
        # a correction of the latest period does
        ok(bulk(key, "snapshots", [{"cif": c.cif, "period": "2026-10-01", "aum": "710000"}]))
        c.refresh_from_db()
        assert c.aum_latest == Decimal("710000.00")
        # a newer period takes over; the same batch may carry several periods of one customer
        ok(bulk(key, "snapshots", [{"cif": c.cif, "period": "2026-11-01", "aum": "720000"},
                                   {"cif": c.cif, "period": "2026-07-01", "aum": "3"}]))
        c.refresh_from_db()
        assert c.aum_latest == Decimal("720000.00")

    def test_rejected_snapshot_does_not_touch_aum_latest(self, world, key):
        c = world.c_rm
        ok(bulk(key, "snapshots", [{"cif": c.cif, "period": "2026-10-01", "aum": "700000", "deposits": "-1"}]))
        c.refresh_from_db()
        assert c.aum_latest == Decimal("500000.00")
        assert not FinancialSnapshot.objects.filter(customer=c, period=dt.date(2026, 10, 1)).exists()

    @pytest.mark.parametrize(("over", "field", "fragment"), [
        ({"period": "2026-12-01"}, "period", "future"),
        ({"period": "2027-01-01"}, "period", "future"),
        ({"period": "2026-10-15"}, "period", "first day"),
        ({"period": "2026-10"}, "period", "YYYY-MM-DD"),
        ({"period": "2026-13-01"}, "period", "YYYY-MM-DD"),
        ({"period": "2026-10-01junk"}, "period", "YYYY-MM-DD"),
        ({"period": ["2026-10-01"]}, "period", "YYYY-MM-DD"),
        ({"period": 20261001}, "period", "YYYY-MM-DD"),
        ({"period": None}, "period", "first day"),
        ({"period": ""}, "period", "first day"),
        ({"cif": None}, "cif", "needs its CIF"),
        ({"cif": 42}, "cif", "Enter text"),
        ({"aum": "-0.01"}, "aum", "negative"),
        ({"aum_avg": -5}, "aum_avg", "negative"),
        ({"deposits": "-1"}, "deposits", "negative"),
        ({"wealth": "-1"}, "wealth", "negative"),
        ({"funds": "-1"}, "funds", "negative"),
        ({"loans": "-1"}, "loans", "negative"),
        ({"credit_limit": "-1"}, "credit_limit", "negative"),
        ({"aum": "1.234"}, "aum", "2 decimal"),
        ({"aum": "abc"}, "aum", "amount"),
        ({"aum": True}, "aum", "amount"),
        ({"aum": [1]}, "aum", "amount"),
        ({"aum": 1e20}, "aum", "amount"),
        ({"aum": "12345678901234567"}, "aum", "amount"),
        ({"txn_count": -1}, "txn_count", "whole number"),
        ({"txn_count": 1.5}, "txn_count", "whole number"),
        ({"txn_count": "many"}, "txn_count", "whole number"),
        ({"txn_count": 2 ** 31}, "txn_count", "whole number"),
        ({"products_held": 40000}, "products_held", "whole number"),
        ({"last_txn_date": "2026-11-23"}, "last_txn_date", "future"),
        ({"last_txn_date": "yesterday"}, "last_txn_date", "YYYY-MM-DD"),
        ({"customer": 1}, "customer", "Unknown field"),
        ({"aum_latest": 1}, "aum_latest", "Unknown field"),
    ])
    def test_bad_values(self, world, key, over, field, fragment):
        record = {"cif": world.c_rm.cif, "period": "2026-10-01", "aum": "1", **over}
        body = ok(bulk(key, "snapshots", [record, {"cif": world.c_rm.cif, "period": "2026-08-01"}]))
        assert counts(body) == (1, 0, 0, 1), body
        errors = errors_of(body)
        assert fragment.lower() in errors[(0, field)].lower(), errors
        assert not FinancialSnapshot.objects.filter(customer=world.c_rm, period__gte=dt.date(2026, 10, 1)).exists()

    @pytest.mark.parametrize(("field", "value", "stored"), [
        ("credit_used", "-1500.50", Decimal("-1500.50")),
        ("fee_income", -3, Decimal("-3.00")),
        ("contribution", "-0.01", Decimal("-0.01")),
        ("aum", 0, Decimal("0.00")),
        ("aum", "1,234.5", Decimal("1234.50")),
        ("aum", 99.99, Decimal("99.99")),
        ("aum", "9999999999999999.99", Decimal("9999999999999999.99")),
        ("txn_count", "12", 12),
    ])
    def test_accepted_values(self, world, key, field, value, stored):
        body = ok(bulk(key, "snapshots", [{"cif": world.c_rm.cif, "period": "2026-10-01", field: value}]))
        assert counts(body) == (1, 0, 0, 0), body
        snap = FinancialSnapshot.objects.get(customer=world.c_rm, period=dt.date(2026, 10, 1))
        assert getattr(snap, field) == stored

    def test_current_month_and_lowercase_cif(self, world, key):
        body = ok(bulk(key, "snapshots", [{"cif": world.c_rm.cif.lower(), "period": "2026-11-01"}]))
        assert counts(body) == (1, 0, 0, 0)

    def test_missing_keys(self, world, key):
        body = ok(bulk(key, "snapshots", [{"period": "2026-10-01"}, {"cif": world.c_rm.cif}, {}]))
        assert counts(body) == (0, 0, 0, 3)
        errors = errors_of(body)
        assert (0, "cif") in errors and (1, "period") in errors and (2, "cif") in errors and (2, "period") in errors

    def test_duplicate_keys_in_one_batch(self, world, key):
        c = world.c_rm
        body = ok(bulk(key, "snapshots", [{"cif": c.cif, "period": "2026-10-01", "aum": 1},
                                          {"cif": c.cif.lower(), "period": "2026-10-01", "aum": 2},
                                          {"cif": c.cif, "period": "2026-08-01"}]))
        assert counts(body) == (1, 0, 0, 2)
        assert "more than once" in errors_of(body)[(0, "period")]

    def test_not_objects_and_nul(self, world, key):
        body = ok(bulk(key, "snapshots", [None, 5, {"cif": "A\x00", "period": "2026-10-01"}]))
        assert counts(body) == (0, 0, 0, 3)


# --------------------------------------------------------------------------------------------------
# Holdings
# --------------------------------------------------------------------------------------------------
def holding(cif, account_no, **over):
    return {"cif": cif, "account_no": account_no, "product_code": "P001", "product_name": "薪金宝",
            "product_type": "deposit"} | over


class TestHoldings:
    def test_create_update_unchanged_and_keep_absent_fields(self, world, key):
        c = world.c_rm
        h = world.holdings["c_rm"]
        records = [holding(c.cif, "A0001", balance="-200.00", opened_on="2020-01-01", matures_on="2030-01-01",
                           product_risk="R2"),
                   {"cif": c.cif, "account_no": h.account_no, "balance": "1.00"},
                   {"cif": c.cif, "account_no": h.account_no + "X"}]
        body = ok(bulk(key, "holdings", records))
        assert counts(body) == (1, 1, 0, 1)
        errors = errors_of(body)
        assert {f for i, f in errors if i == 2} == {"product_code", "product_name", "product_type"}
        assert "new holding needs" in errors[(2, "product_name")]
        new_h = Holding.objects.get(customer=c, account_no="A0001")
        assert (new_h.balance, new_h.status, new_h.product_risk, new_h.matures_on) == (
            Decimal("-200.00"), "active", "R2", dt.date(2030, 1, 1))
        h.refresh_from_db()
        assert h.balance == Decimal("1.00") and h.product_name == "薪金宝" and h.product_type == "deposit"
        assert counts(ok(bulk(key, "holdings", records[:2]))) == (0, 0, 2, 0)

    def test_account_number_is_per_customer(self, world, key):
        body = ok(bulk(key, "holdings", [holding(world.c_rm.cif, "SAME"),
                                         holding(world.customers["c_other"].cif, "SAME")]))
        assert counts(body) == (2, 0, 0, 0)

    @pytest.mark.parametrize(("over", "field", "fragment"), [
        ({"product_type": ""}, "product_type", "blank"),
        ({"product_type": "gold"}, "product_type", "Not a valid choice"),
        ({"product_code": ""}, "product_code", "blank"),
        ({"product_name": ""}, "product_name", "blank"),
        ({"product_name": 5}, "product_name", "Enter text"),
        ({"product_name": "名" * 101}, "product_name", "at most 100"),
        ({"product_risk": "R9"}, "product_risk", "Not a valid choice"),
        ({"status": "gone"}, "status", "Not a valid choice"),
        ({"balance": "1.001"}, "balance", "2 decimal"),
        ({"balance": "abc"}, "balance", "amount"),
        ({"opened_on": "2020-02-30"}, "opened_on", "YYYY-MM-DD"),
        ({"account_no": "A" * 33}, "account_no", "at most 32"),
        ({"account_no": None}, "account_no", "account number"),
        ({"account_no": "  "}, "account_no", "account number"),
        ({"account_no": "A\x00"}, "account_no", "Null characters"),
        ({"iban": "x"}, "iban", "Unknown field"),
    ])
    def test_bad_values(self, world, key, over, field, fragment):
        record = holding(world.c_rm.cif, "A0002") | over
        body = ok(bulk(key, "holdings", [record, holding(world.c_rm.cif, "A0003")]))
        assert counts(body) == (1, 0, 0, 1), body
        assert fragment.lower() in errors_of(body)[(0, field)].lower()
        assert not Holding.objects.filter(account_no="A0002").exists()

    def test_blank_on_an_existing_holding_is_rejected_not_stored(self, world, key):
        h = world.holdings["c_rm"]
        body = ok(bulk(key, "holdings", [{"cif": world.c_rm.cif, "account_no": h.account_no, "product_type": "",
                                          "product_name": ""}]))
        assert counts(body) == (0, 0, 0, 1)
        h.refresh_from_db()
        assert h.product_type == "deposit" and h.product_name == "薪金宝"

    def test_blank_status_keeps_the_stored_status(self, world, key):
        h = world.holdings["c_rm"]
        Holding.objects.filter(pk=h.pk).update(status="matured")
        body = ok(bulk(key, "holdings", [{"cif": world.c_rm.cif, "account_no": h.account_no, "status": ""}]))
        assert counts(body) == (0, 0, 1, 0)
        h.refresh_from_db()
        assert h.status == "matured"

    def test_text_that_looks_like_the_copy_null_marker_is_stored_as_text(self, world, key):
        ok(bulk(key, "holdings", [holding(world.c_rm.cif, "A0004", product_name="\\N")]))
        assert Holding.objects.get(account_no="A0004").product_name == "\\N"

    def test_duplicate_accounts_in_one_batch(self, world, key):
        body = ok(bulk(key, "holdings", [holding(world.c_rm.cif, "A0005"), holding(world.c_rm.cif, "A0005"),
                                         holding(world.c_rm.cif, "A0006")]))
        assert counts(body) == (1, 0, 0, 2)
        assert "more than once" in errors_of(body)[(1, "account_no")]

    def test_unknown_customer(self, world, key):
        body = ok(bulk(key, "holdings", [holding("NOPE", "A0007")]))
        assert body["errors"][0]["key"] == {"cif": "NOPE", "account_no": "A0007"}
        assert body["errors"][0]["field"] == "cif"


# --------------------------------------------------------------------------------------------------
# Idempotency-Key
# --------------------------------------------------------------------------------------------------
class TestIdempotency:
    def test_retry_replays_the_response_without_reapplying(self, world, key):
        c = world.c_rm
        records = [{"cif": c.cif, "address": "第一次"}, new("ID0001"), new("ID0002", mobile="1")]
        first = bulk(key, "customers", records, HTTP_IDEMPOTENCY_KEY="batch-2026-11-22-001")
        body = ok(first)
        assert "Idempotent-Replayed" not in first
        assert counts(body) == (1, 1, 0, 1)
        # someone changes the customer in between: a replay must not put "第一次" back
        Customer.objects.filter(pk=c.pk).update(address="人工修改")
        n_history = CustomerChange.objects.count()
        retry = bulk(key, "customers", records, HTTP_IDEMPOTENCY_KEY="batch-2026-11-22-001")
        assert retry.status_code == 200 and retry["Idempotent-Replayed"] == "true"
        assert retry.json() == body
        assert CustomerChange.objects.count() == n_history
        assert Customer.objects.get(pk=c.pk).address == "人工修改"
        assert Customer.objects.filter(cif="ID0001").count() == 1

    @pytest.mark.parametrize("kind", ["snapshots", "holdings"])
    def test_replay_on_figures(self, world, key, kind):
        record = ({"cif": world.c_rm.cif, "period": "2026-10-01", "aum": "5"} if kind == "snapshots"
                  else holding(world.c_rm.cif, "IDEM1", balance="5"))
        first = ok(bulk(key, kind, [record], HTTP_IDEMPOTENCY_KEY="k"))
        FinancialSnapshot.objects.update(aum=Decimal(9))
        Holding.objects.update(balance=Decimal(9))
        retry = bulk(key, kind, [record], HTTP_IDEMPOTENCY_KEY="k")
        assert retry["Idempotent-Replayed"] == "true" and retry.json() == first
        assert not FinancialSnapshot.objects.exclude(aum=Decimal(9)).exists()
        assert not Holding.objects.exclude(balance=Decimal(9)).exists()

    def test_same_key_different_body_is_422(self, world, key):
        ok(bulk(key, "customers", [new("ID0003")], HTTP_IDEMPOTENCY_KEY="k1"))
        r = bulk(key, "customers", [new("ID0004")], HTTP_IDEMPOTENCY_KEY="k1")
        assert_error(r, 422, "idempotency_key_reused")
        assert not Customer.objects.filter(cif="ID0004").exists()

    def test_same_key_same_body_other_endpoint_is_422(self, world, key):
        ok(bulk(key, "customers", [], HTTP_IDEMPOTENCY_KEY="k2"))
        assert_error(bulk(key, "snapshots", [], HTTP_IDEMPOTENCY_KEY="k2"), 422, "idempotency_key_reused")

    def test_body_hash_ignores_key_order(self, world, key):
        ok(bulk(key, "customers", [{"cif": "ID0005", "name": "甲", "branch": "B1"}], HTTP_IDEMPOTENCY_KEY="k3"))
        r = bulk(key, "customers", [{"branch": "B1", "name": "甲", "cif": "ID0005"}], HTTP_IDEMPOTENCY_KEY="k3")
        assert r["Idempotent-Replayed"] == "true"

    def test_repeat_while_in_flight_is_409(self, world, key):
        records = [new("ID0006")]
        ok(bulk(key, "customers", records, HTTP_IDEMPOTENCY_KEY="k4"))
        # the record as it is while the first request is still being processed
        IdempotencyRecord.objects.filter(key="k4").update(status=None, response=None)
        r = bulk(key, "customers", records, HTTP_IDEMPOTENCY_KEY="k4")
        assert_error(r, 409, "idempotency_conflict")
        assert "Idempotent-Replayed" not in r
        # a different body under the in-flight key is still a misuse of the key
        assert_error(bulk(key, "customers", [new("ID0007")], HTTP_IDEMPOTENCY_KEY="k4"), 422)

    def test_keys_belong_to_their_caller(self, world, key, key_client, ho):
        other = english(key_client())
        ok(bulk(key, "customers", [new("ID0008")], HTTP_IDEMPOTENCY_KEY="shared"))
        r = bulk(other, "customers", [new("ID0009")], HTTP_IDEMPOTENCY_KEY="shared")
        assert counts(ok(r)) == (1, 0, 0, 0) and "Idempotent-Replayed" not in r
        r = bulk(ho, "customers", [new("ID0010")], HTTP_IDEMPOTENCY_KEY="shared")
        assert counts(ok(r)) == (1, 0, 0, 0)
        # and each caller's replay is its own
        assert bulk(other, "customers", [new("ID0009")], HTTP_IDEMPOTENCY_KEY="shared").json()["created"] == 1
        assert IdempotencyRecord.objects.filter(key="shared").count() == 3

    def test_staff_replay(self, world, ho):
        first = ok(bulk(ho, "customers", [new("ID0011")], HTTP_IDEMPOTENCY_KEY="ho-1"))
        r = bulk(ho, "customers", [new("ID0011")], HTTP_IDEMPOTENCY_KEY="ho-1")
        assert r["Idempotent-Replayed"] == "true" and r.json() == first

    @pytest.mark.parametrize("value", ["", "   ", "k" * 256])
    def test_invalid_key_is_400(self, world, key, value):
        r = bulk(key, "customers", [new("ID0012")], HTTP_IDEMPOTENCY_KEY=value)
        assert_error(r, 400, "invalid_idempotency_key")
        assert not Customer.objects.filter(cif="ID0012").exists()

    def test_longest_key(self, world, key):
        ok(bulk(key, "customers", [new("ID0013")], HTTP_IDEMPOTENCY_KEY="k" * 255))
        r = bulk(key, "customers", [new("ID0013")], HTTP_IDEMPOTENCY_KEY="k" * 255)
        assert r["Idempotent-Replayed"] == "true"

    def test_413_is_remembered_and_replayed(self, world, key):
        """An error *response* (413) is stored like any answer: the same key and body get it again;
        the same key with a smaller (different) body is a 422 — a client splitting the batch uses new keys."""
        records = [{"cif": f"Z{i}"} for i in range(5001)]
        assert_error(bulk(key, "customers", records, HTTP_IDEMPOTENCY_KEY="big"), 413)
        r = bulk(key, "customers", records, HTTP_IDEMPOTENCY_KEY="big")
        assert_error(r, 413, "payload_too_large")
        assert r["Idempotent-Replayed"] == "true"
        assert_error(bulk(key, "customers", records[:10], HTTP_IDEMPOTENCY_KEY="big"), 422)

    def test_400_from_a_malformed_body_is_forgotten(self, world, key):
        """A request rejected with an exception (400: not a list of records) is not stored: the key can be
        used again, e.g. with the corrected body."""
        bad = key.post(f"{API}/customers/bulk/", {"records": "oops"}, format="json", HTTP_IDEMPOTENCY_KEY="fix")
        assert_error(bad, 400, "validation_error")
        assert not IdempotencyRecord.objects.filter(key="fix").exists()
        r = bulk(key, "customers", [new("ID0014")], HTTP_IDEMPOTENCY_KEY="fix")
        assert counts(ok(r)) == (1, 0, 0, 0) and "Idempotent-Replayed" not in r

    def test_invalid_json_with_a_key_is_400_and_not_stored(self, world, key):
        r = key.post(f"{API}/customers/bulk/", data=b"{", content_type="application/json",
                     HTTP_IDEMPOTENCY_KEY="bad-json")
        assert_error(r, 400, "parse_error")
        assert not IdempotencyRecord.objects.filter(key="bad-json").exists()

    def test_rejected_records_are_part_of_the_replayed_answer(self, world, key):
        first = ok(bulk(key, "customers", [new("ID0015", mobile="1")], HTTP_IDEMPOTENCY_KEY="rej"))
        assert first["rejected"] == 1
        assert bulk(key, "customers", [new("ID0015", mobile="1")], HTTP_IDEMPOTENCY_KEY="rej").json() == first

    def test_403_is_not_stored(self, world, key_client):
        client = key_client(scopes=[Scope.CUSTOMERS_READ])
        assert_error(bulk(client, "customers", [], HTTP_IDEMPOTENCY_KEY="no"), 403)
        assert not IdempotencyRecord.objects.exists()


# --------------------------------------------------------------------------------------------------
# Query count: constant in the number of records
# --------------------------------------------------------------------------------------------------
def _count_queries(client, kind, records):
    with CaptureQueriesContext(connection) as ctx:
        body = ok(bulk(client, kind, records))
    return len(ctx.captured_queries), body


def _customer_records(prefix, n, world):
    rms = ["rm", "other_rm"]
    return [new(f"{prefix}{i:05d}", mobile=f"139{i:08d}", rm=rms[i % 2], tags=["代发"],
                id_type="resident_id", id_number=make_resident_id(dt.date(1980, 1, 1) + dt.timedelta(days=i), "F",
                                                                  seq=i))
            for i in range(n)]


# Measured (auth, key-use log, branch/RM look-ups, lock, temp table, COPY, one upsert, …): whatever the
# batch size. A branch key adds its subtree look-up, staff their session and user.
# an insert and an update statement per batch
QUERY_BOUND = {"key": 14, "b1_key": 16, "ho": 17, "snapshots": 13, "holdings": 11}


@pytest.mark.parametrize("who", ["key", "b1_key", "ho"])
def test_customer_bulk_queries_do_not_grow_with_the_batch(world, request, who, django_assert_max_num_queries):
    client = request.getfixturevalue(who)
    small_new, _ = _count_queries(client, "customers", _customer_records("QA", 5, world))
    large_records = _customer_records("QB", 500, world)
    with django_assert_max_num_queries(QUERY_BOUND[who]):
        large_new, body = _count_queries(client, "customers", large_records)
    assert body["created"] == 500
    assert large_new == small_new
    for r in large_records:
        r["address"] = "更新"
    with django_assert_max_num_queries(QUERY_BOUND[who]):
        body = ok(bulk(client, "customers", large_records))
    assert body["updated"] == 500


@pytest.mark.parametrize("kind", ["snapshots", "holdings"])
def test_figures_bulk_queries_do_not_grow_with_the_batch(world, key, kind, django_assert_max_num_queries):
    customers = CustomerFactory.create_batch(50, rm=world.rm)

    def records(n, tag):
        out = []
        for i in range(n):
            c = customers[i % 50]
            if kind == "snapshots":
                out.append({"cif": c.cif, "period": f"{2020 + i // 50 // 12:04d}-{i // 50 % 12 + 1:02d}-01",
                            "aum": str(i), "txn_count": i})
            else:
                out.append(holding(c.cif, f"{tag}{i:05d}", balance=str(i)))
        return out

    small, _ = _count_queries(key, kind, records(5, "S"))
    with django_assert_max_num_queries(QUERY_BOUND[kind]):
        large, body = _count_queries(key, kind, records(500, "L"))
    assert body["rejected"] == 0 and body["created"] + body["updated"] + body["unchanged"] == 500
    # the same statements whatever the size; the update statement is skipped when every record is new
    assert small <= large <= small + 1
    updated = records(500, "L")
    for r in updated:
        r["txn_count" if kind == "snapshots" else "balance"] = 7
    with django_assert_max_num_queries(QUERY_BOUND[kind]):
        assert ok(bulk(key, kind, updated))["updated"] > 0


@pytest.mark.parametrize("kind", ["customers", "snapshots", "holdings"])
def test_bulk_runs_with_the_collector_paused_and_frees_the_body(key, kind, monkeypatch):
    """See core/collector.py: no cyclic collection over the batch's objects, freed before it resumes."""
    import gc

    from customers.api.views import CustomerViewSet, HoldingViewSet, SnapshotViewSet

    viewset = {"customers": CustomerViewSet, "snapshots": SnapshotViewSet, "holdings": HoldingViewSet}[kind]
    seen = {}
    real = viewset.bulk_upsert

    def spy(records, **kwargs):
        seen["collector on"] = gc.isenabled()
        seen["records"] = records
        return real(records, **kwargs)

    monkeypatch.setattr(viewset, "bulk_upsert", staticmethod(spy))
    assert gc.isenabled()
    body = ok(bulk(key, kind, [{"cif": "CIF-NOPE"}]))
    assert body["rejected"] == 1
    assert seen == {"collector on": False, "records": []}
    assert gc.isenabled()
