"""Issue 9, item 12: a CIF is Latin letters, digits and dashes, on every write path.

One pure rule (``rules.normalize_cif`` and its whole-column twin ``rules.cif_checks``), used by the
single-record service (form and API) and by the bulk pipeline (bulk API and file import).
"""

import datetime as dt
import io

import pytest
from django.test import Client
from django.urls import reverse

from customers import rules, services
from customers.ingest.customers import customers_upsert
from customers.ingest.importer import import_file
from customers.models import Customer

pytestmark = pytest.mark.usefixtures("english")

TODAY = dt.date(2026, 11, 22)
BAD_CIFS = ["CIF 001", "CIF_001", "客户001", "CIF<b>", "CIF/1", "ＣＩＦ１", "C'1", "A\tB"]



# --- the rule ---
@pytest.mark.parametrize("value", ["CIF0000000001", "c-1001-x", " 8001234 ", "A-B-C"])
def test_good_cifs_are_stripped_and_upper_cased(value):
    assert rules.normalize_cif(value) == value.strip().upper()


@pytest.mark.parametrize("value", [*BAD_CIFS, "", "   "])
def test_bad_cifs_are_refused_with_one_message(value):
    with pytest.raises(rules.RuleViolation) as e:
        rules.normalize_cif(value)
    assert str(e.value.message) == "A CIF has only letters, digits and dashes."


def test_column_check_agrees_with_the_one_value_rule():
    good = ["CIF1", "A-1", "0001"]
    assert rules.cif_checks(good).tolist() == [True] * 3  # the one-pass path
    mixed = [*good, *[v.strip().upper() for v in BAD_CIFS], "X\nY"]
    expected = []
    for v in mixed:
        try:
            rules.normalize_cif(v)
            expected.append(True)
        except rules.RuleViolation:
            expected.append(False)
    assert rules.cif_checks(mixed).tolist() == expected
    assert expected == [True] * 3 + [False] * (len(BAD_CIFS) + 1)
    assert rules.cif_checks([]).tolist() == []


# --- the single-record service: page and API ---
def test_service_refuses_a_bad_cif_and_upper_cases_a_good_one(org_world):
    from core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as e:
        services.customer_create(actor=org_world.ho_user, today=TODAY,
                                 data={"cif": "CIF 7", "name": "林晓峰", "branch": org_world.b1})
    assert e.value.fields == {"cif": ["A CIF has only letters, digits and dashes."]}
    c = services.customer_create(actor=org_world.ho_user, today=TODAY,
                                 data={"cif": "cif-7", "name": "林晓峰", "branch": org_world.b1})
    assert c.cif == "CIF-7"


def test_form_shows_the_cif_error_inline(org_world):
    client = Client()
    client.force_login(org_world.ho_user)
    response = client.post(reverse("customers:create"), {
        "cif": "客户<001>", "kind": "individual", "name": "林晓峰", "lifecycle_stage": "development",
        "branch": org_world.b1.pk}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response.context["form"].errors["cif"] == ["A CIF has only letters, digits and dashes."]
    assert not Customer.objects.filter(name="林晓峰").exists()


def test_api_create_refuses_a_bad_cif(org_world, key_client):
    from org.constants import Scope

    client = key_client(scopes=[Scope.CUSTOMERS_WRITE, Scope.CUSTOMERS_READ])
    response = client.post("/api/v1/customers/", {"cif": "CIF 9", "name": "林晓峰", "branch": org_world.b1.pk},
                           format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400, response.content
    assert response.json()["errors"]["cif"] == ["A CIF has only letters, digits and dashes."]


# --- the bulk pipeline: bulk API and file import ---
def test_bulk_rejects_bad_cifs_and_keeps_the_good_records(org_world):
    records = [{"cif": cif, "name": "林晓峰", "branch": "B1"} for cif in ["GOOD-1", *BAD_CIFS, "good-2"]]
    result = customers_upsert(records, actor=org_world.ho_user, today=TODAY)
    assert (result.created, result.rejected) == (2, len(BAD_CIFS))
    reasons = {(e["index"], e["field"]): e["reason"] for e in result.errors}
    assert reasons == {(i, "cif"): "A CIF has only letters, digits and dashes." for i in range(1, len(BAD_CIFS) + 1)}
    assert set(Customer.objects.filter(name="林晓峰").values_list("cif", flat=True)) == {"GOOD-1", "GOOD-2"}


def test_file_import_rejects_bad_cifs(org_world, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    path = tmp_path / "c.csv"
    path.write_text("cif,name,branch\nIMP-1,甲,B1\nIMP 2,乙,B1\nIMP_3,丙,B1\n", encoding="utf-8")
    result = import_file(path, kind="customers", actor=org_world.ho_user, today=TODAY, rejects_out=io.StringIO())
    assert (result.created, result.rejected) == (1, 2)
    assert {(e["line"], e["field"]) for e in result.errors} == {(3, "cif"), (4, "cif")}
    assert list(Customer.objects.filter(name__in=["甲", "乙", "丙"]).values_list("cif", flat=True)) == ["IMP-1"]
