"""The API keeps its contract (issue 9 §10): dates within 1900–2100 everywhere a date goes in, 405 for
methods an endpoint does not have, a NUL character is a 400 (never a 500) wherever text goes in — API and
HTML pages alike — and every answer in the one error format."""

import pytest
from django.test import Client
from django.urls import reverse

from customers.models import Customer

from .test_api import API, assert_error, new_customer_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def ho(world, client_for):
    client = client_for(world.ho_user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


BOUNDS = "Enter a date between 1900-01-01 and 2100-12-31."


# --- dates -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("field", "value"), [
    ("birth_date", "1899-12-31"), ("birth_date", "0001-01-01"), ("risk_assessed_on", "2101-01-01"),
])
def test_customer_dates_outside_1900_2100_are_a_field_error(world, ho, field, value):
    payload = new_customer_payload(world, id_type="", id_number="", risk_level="C3", **{field: value})
    body = assert_error(ho.post(f"{API}/customers/", payload, format="json"), 400, "validation_error", [field])
    assert body["errors"][field] == [BOUNDS]
    body = assert_error(ho.patch(f"{API}/customers/{world.c_rm.pk}/", {field: value}, format="json"), 400,
                        "validation_error", [field])
    assert body["errors"][field] == [BOUNDS]


def test_interaction_and_task_dates_are_bounded(world, ho):
    c = world.c_rm
    r = ho.post(f"{API}/interactions/", {"customer": c.pk, "channel": "phone", "occurred_at": "0001-01-01T00:00:00Z",
                                         "next_follow_up": "2200-01-01"}, format="json")
    body = assert_error(r, 400, "validation_error", ["occurred_at", "next_follow_up"])
    assert body["errors"]["next_follow_up"] == [BOUNDS]
    r = ho.post(f"{API}/tasks/", {"customer": c.pk, "title": "回访", "due_date": "1800-01-01"}, format="json")
    assert assert_error(r, 400, "validation_error", ["due_date"])["errors"]["due_date"] == [BOUNDS]
    task = world.tasks["c_rm"]
    r = ho.post(f"{API}/tasks/{task.pk}/snooze/", {"until": "2101-01-01"}, format="json")
    assert assert_error(r, 400, "validation_error", ["until"])["errors"]["until"] == [BOUNDS]


@pytest.mark.parametrize(("path", "param", "value"), [
    ("snapshots", "period_from", "0001-01-01"), ("snapshots", "period_to", "2101-01-01"),
    ("tasks", "due_before", "1899-12-31"), ("interactions", "since", "0001-01-01T00:00:00Z"),
])
def test_filter_dates_are_bounded(world, ho, path, param, value):
    body = assert_error(ho.get(f"{API}/{path}/", {param: value}), 400, "validation_error", [param])
    assert body["errors"][param] == [BOUNDS]


def test_bulk_dates_are_bounded(world, ho):
    records = [{"cif": "DB0001", "name": "林晓峰", "branch": world.b1.code, "birth_date": "1899-12-31"},
               {"cif": "DB0002", "name": "林晓峰", "branch": world.b1.code, "birth_date": "0199-05-01"},
               {"cif": "DB0003", "name": "林晓峰", "branch": world.b1.code, "birth_date": "1990-05-01"}]
    body = ho.post(f"{API}/customers/bulk/", {"records": records}, format="json").json()
    assert body["rejected"] == 2 and body["created"] == 1, body
    assert {(e["index"], e["field"], e["reason"]) for e in body["errors"]} == {
        (0, "birth_date", BOUNDS), (1, "birth_date", BOUNDS)}
    records = [{"cif": world.c_rm.cif, "period": "2101-01-01", "aum": "1.00"}]
    body = ho.post(f"{API}/snapshots/bulk/", {"records": records}, format="json").json()
    assert body["rejected"] == 1 and body["errors"][0]["field"] == "period", body
    records = [{"cif": world.c_rm.cif, "account_no": "6217000010009999999", "product_code": "WM-1",
                "product_name": "稳盈", "product_type": "wealth", "balance": "1.00", "opened_on": "1850-01-01"}]
    body = ho.post(f"{API}/holdings/bulk/", {"records": records}, format="json").json()
    assert body["rejected"] == 1 and body["errors"][0]["field"] == "opened_on", body
    assert body["errors"][0]["reason"] == BOUNDS


# --- methods -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), [
    ("delete", "customers/{c}/"), ("delete", "customers/"), ("put", "customers/"),
    ("put", "snapshots/{s}/"), ("patch", "snapshots/{s}/"), ("delete", "snapshots/{s}/"),
    ("put", "holdings/{h}/"), ("delete", "interactions/{i}/"), ("patch", "tasks/{t}/"), ("delete", "tasks/{t}/"),
    ("get", "customers/{c}/reveal/"), ("get", "customers/{c}/tags/"), ("get", "tasks/{t}/complete/"),
    ("get", "customers/bulk/"), ("post", "customers/changes/"),
])
def test_disallowed_methods_are_405_in_the_error_format(world, ho, method, path):
    path = path.format(c=world.c_rm.pk, s=world.snapshots["c_rm"].pk, h=world.holdings["c_rm"].pk,
                       i=world.interactions["c_rm"].pk, t=world.tasks["c_rm"].pk)
    response = getattr(ho, method)(f"{API}/{path}", {}, format="json")
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"]
    assert Customer.objects.filter(pk=world.c_rm.pk).exists()


# --- NUL characters ----------------------------------------------------------------------------------------

NUL = "\x00"


@pytest.mark.parametrize("params", [
    {"q": f"张{NUL}"}, {"tag": f"V{NUL}IP"}, {"ordering": f"name{NUL}"}, {"page": f"1{NUL}"},
    {"kind": NUL}, {f"q{NUL}": "x"}, {"lifecycle_stage": ["growth", f"x{NUL}"]},
])
def test_nul_in_api_query_parameters_is_400(world, ho, params):
    body = assert_error(ho.get(f"{API}/customers/", params), 400, "validation_error")
    assert body["errors"], body


def test_nul_in_other_query_parameters_is_400(world, ho):
    assert_error(ho.get(f"{API}/snapshots/", {"cif": f"C{NUL}"}), 400, "validation_error", ["cif"])
    assert_error(ho.get(f"{API}/customers/changes/", {"since": f"a{NUL}"}), 400, "validation_error", ["since"])


@pytest.mark.parametrize("field", ["name", "address", "notes", "occupation", "cif", "email"])
def test_nul_in_json_body_is_a_field_error(world, ho, field):
    payload = new_customer_payload(world, **{field: f"林{NUL}晓峰"})
    assert_error(ho.post(f"{API}/customers/", payload, format="json"), 400, "validation_error", [field])
    assert_error(ho.patch(f"{API}/customers/{world.c_rm.pk}/", {field: f"x{NUL}"}, format="json"), 400,
                 "validation_error", [field])


def test_nul_in_tags_and_other_bodies_is_400(world, ho):
    c = world.c_rm
    r = ho.post(f"{API}/customers/", new_customer_payload(world, tags=["ok", f"V{NUL}"]), format="json")
    assert_error(r, 400, "validation_error", ["tags[1]"])
    assert_error(ho.post(f"{API}/customers/{c.pk}/tags/", {"add": [f"V{NUL}"]}, format="json"), 400,
                 "validation_error", ["add[0]"])
    assert_error(ho.post(f"{API}/customers/{c.pk}/reveal/", {"field": "mobile", "reason": f"x{NUL}"},
                         format="json"), 400, "validation_error", ["reason"])
    assert_error(ho.post(f"{API}/customers/", {**new_customer_payload(world), f"x{NUL}": 1}, format="json"), 400,
                 "validation_error")
    r = ho.post(f"{API}/tasks/", {"customer": c.pk, "title": f"回{NUL}访", "due_date": "2026-12-30"}, format="json")
    assert_error(r, 400, "validation_error", ["title"])
    r = ho.post(f"{API}/interactions/", {"customer": c.pk, "channel": "phone", "occurred_at": "2026-11-01T10:00:00Z",
                                         "notes": f"n{NUL}"}, format="json")
    assert_error(r, 400, "validation_error", ["notes"])


@pytest.mark.parametrize(("record", "field"), [
    ({"cif": f"N{NUL}1", "name": "林晓峰"}, "cif"), ({"cif": "N0001", "name": f"林{NUL}"}, "name"),
    ({"cif": "N0001", "name": "林晓峰", "tags": [f"a{NUL}"]}, "tags"),
    ({"cif": "N0001", "name": "林晓峰", f"x{NUL}": "1"}, f"x{NUL}"),
])
def test_nul_in_bulk_records_rejects_the_record_not_500(world, ho, record, field):
    """A bad record is rejected in the per-record report (200), as every other bad value of the bulk API."""
    response = ho.post(f"{API}/customers/bulk/", {"records": [{"branch": world.b1.code, **record}]}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["rejected"]) == (0, 1)
    assert [e["field"] for e in body["errors"]] == [field]
    assert not Customer.objects.filter(cif__startswith="N").exists()


def test_nul_in_the_idempotency_key_is_400(world, ho):
    r = ho.post(f"{API}/customers/bulk/", {"records": []}, format="json", HTTP_IDEMPOTENCY_KEY=f"k{NUL}1")
    assert_error(r, 400, "validation_error", ["Idempotency-Key"])


# --- NUL in the HTML pages ---------------------------------------------------------------------------------

@pytest.mark.parametrize("params", [{"q": f"张{NUL}"}, {"tag": NUL}, {"sort": NUL}, {"page": NUL}, {"rm": NUL}])
def test_nul_in_the_customer_list_query_is_400(world, params):
    client = Client()
    client.force_login(world.rm)
    assert client.get(reverse("customers:list"), params).status_code == 400


def test_nul_in_the_login_form_is_a_form_error_not_500(world):
    response = Client().post(reverse("login"), {"username": f"rm{NUL}", "password": f"x{NUL}"})
    assert response.status_code == 200  # the login page again, with the form's error
    assert response.context["form"].errors and not response.wsgi_request.user.is_authenticated


def test_nul_in_the_customer_form_is_a_field_error(world):
    from .test_views import valid_form

    client = Client()
    client.force_login(world.rm)
    response = client.post(reverse("customers:create"), valid_form(world, name=f"欧阳{NUL}娜娜", notes=f"n{NUL}"))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors.get("name") and errors.get("notes"), errors


# --- framework answers keep the error format ----------------------------------------------------------------

def test_unacceptable_accept_is_406_and_unknown_media_type_is_415(world, ho):
    assert_error(ho.get(f"{API}/customers/", HTTP_ACCEPT="text/csv"), 406, "not_acceptable")
    r = ho.post(f"{API}/tasks/", data=b"<task/>", content_type="application/xml")
    assert_error(r, 415, "unsupported_media_type")


def test_page_zero_and_beyond_the_last_are_404_as_documented(world, ho):
    assert_error(ho.get(f"{API}/customers/", {"page": 0}), 404, "not_found")
    assert_error(ho.get(f"{API}/tasks/", {"page": 99}), 404, "not_found")


def test_nul_in_a_cookie_or_the_path_is_400(world):
    client = Client()
    assert client.get(reverse("customers:list"), HTTP_COOKIE="sessionid=abc\x00def").status_code == 400
    assert_error(client.get(f"{API}/customers/", HTTP_X_REQUEST_ID="a\x00"), 400, "validation_error",
                 ["X-Request-Id"])
    assert Client().get("/customers/%00/").status_code == 400
