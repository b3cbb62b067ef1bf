"""The working calendar's API: read by staff and keys with complaints:read, changed by head office only, the branch
scope (404 outside it), field-level errors with nothing changed, documented in the schema."""

import datetime as dt

import pytest

from org.constants import Scope
from org.models import CalendarDay, CalendarYear, WorkingHours
from tests.org.builders import build_org

pytestmark = pytest.mark.django_db
WEEK = [[["09:00", "12:00"], ["13:30", "17:30"]]] * 5 + [[["09:00", "12:00"]], []]


@pytest.fixture
def org(db):
    return build_org()


def test_the_calendar_of_a_provisional_year(org, client_for):
    response = client_for(org.rm).get("/api/v1/calendar/", {"year": 2027, "branch": "B1"})
    assert response.status_code == 200
    body = response.json()
    assert body["branch"] == "B1" and body["provisional"] and body["working_days"] == 254
    assert "2027-02-08" in body["statutory"] and body["held"][0] == 2004 and body["hours_from"] is None
    assert body["hours"][0] == [["09:00", "12:00"], ["13:30", "17:30"]] and body["hours"][6] == []
    this_year = client_for(org.rm).get("/api/v1/calendar/", {"year": 2026}).json()
    assert not this_year["provisional"] and this_year["statutory"] == []
    assert any(d["date"] == "2026-02-14" and d["kind"] == "workday" for d in this_year["days"])


@pytest.mark.parametrize("params, status", [({"year": "20x6"}, 400), ({"year": 3000}, 400), ({"branch": "NOPE"}, 404)])
def test_bad_parameters(org, client_for, params, status):
    assert client_for(org.ho_user).get("/api/v1/calendar/", params).status_code == status


def test_a_branch_outside_the_scope_is_404(org, client_for, key_client):
    assert client_for(org.sup_b1).get("/api/v1/calendar/", {"branch": "B2"}).status_code == 404
    assert client_for(org.sup_b1).get("/api/v1/calendar/", {"branch": "B1A"}).status_code == 200
    scoped_key = key_client(scopes=[Scope.COMPLAINTS_READ], branch=org.b2)
    assert scoped_key.get("/api/v1/calendar/", {"branch": "B1"}).status_code == 404
    assert scoped_key.get("/api/v1/calendar/", {"branch": "B2"}).status_code == 200


def test_keys_need_complaints_read_and_never_write(org, key_client, api_client):
    reader = key_client(scopes=[Scope.COMPLAINTS_READ])
    for url in ("/api/v1/calendar/", "/api/v1/calendar-days/", "/api/v1/working-hours/", "/api/v1/calendar-years/"):
        assert reader.get(url).status_code == 200, url
        assert key_client(scopes=[Scope.CUSTOMERS_READ]).get(url).status_code == 403, url
        assert api_client.get(url).status_code in (401, 403), url
    writer = key_client()  # every scope: still not head office
    assert writer.post("/api/v1/calendar-days/", {"date": "2026-03-04", "kind": "holiday"},
                       format="json").status_code == 403
    assert writer.post("/api/v1/calendar-years/", {"year": 2027, "days": []}, format="json").status_code == 403
    assert not CalendarDay.objects.filter(day=dt.date(2026, 3, 4)).exists()


@pytest.mark.parametrize("who", ["sup_b1", "rm", "co_b1"])
def test_only_head_office_changes_it(org, client_for, who):
    client = client_for(getattr(org, who))
    assert client.post("/api/v1/calendar-days/", {"date": "2026-03-04", "kind": "holiday"},
                       format="json").status_code == 403
    assert client.put("/api/v1/working-hours/B1/", {"week": WEEK}, format="json").status_code == 403
    assert client.post("/api/v1/calendar-years/", {"year": 2027, "days": [
        {"date": "2027-01-01", "kind": "holiday"}]}, format="json").status_code == 403
    day = CalendarDay.objects.get(branch=None, day=dt.date(2026, 2, 16))
    assert client.delete(f"/api/v1/calendar-days/{day.pk}/").status_code == 403
    assert CalendarDay.objects.filter(pk=day.pk).exists() and not WorkingHours.objects.exists()


def test_head_office_sets_lists_and_removes_days(org, client_for):
    client = client_for(org.ho_user)
    created = client.post("/api/v1/calendar-days/", {"date": "2026-03-04", "kind": "holiday", "name": "分行庆典",
                                                     "branch": "B1"}, format="json")
    assert created.status_code == 201 and created.json()["branch"] == "B1"
    listed = client.get("/api/v1/calendar-days/", {"year": 2026, "branch": "B1"}).json()
    assert [d["date"] for d in listed["results"]] == ["2026-03-04"]
    bank = client.get("/api/v1/calendar-days/", {"year": 2026}).json()
    assert bank["count"] > 20 and all(d["branch"] is None for d in bank["results"])
    applied = client.get("/api/v1/calendar/", {"branch": "B1A", "year": 2026}).json()
    assert any(d["date"] == "2026-03-04" and d["set_for"] == "福州分行" for d in applied["days"])
    assert client.delete(f"/api/v1/calendar-days/{created.json()['id']}/").status_code == 204
    assert client.delete(f"/api/v1/calendar-days/{created.json()['id']}/").status_code == 404
    assert client.delete("/api/v1/calendar-days/99999999999999999999/").status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"date": "2026-03-05", "kind": "workday"}, "kind"),  # a Thursday
    ({"date": "2026-02-30", "kind": "holiday"}, "date"),
    ({"date": "2026-03-07", "kind": "rest"}, "kind"),
    ({"date": "2026-03-07", "kind": "holiday", "colour": "red"}, "colour"),
])
def test_a_bad_day_is_refused_beside_its_field(org, client_for, body, field):
    response = client_for(org.ho_user).post("/api/v1/calendar-days/", body, format="json")
    assert response.status_code == 400
    assert field in str(response.json())
    assert not CalendarDay.objects.filter(day__in=[dt.date(2026, 3, 5), dt.date(2026, 3, 7)]).exists()


def test_working_hours_are_set_and_cleared(org, client_for):
    client = client_for(org.ho_user)
    response = client.put("/api/v1/working-hours/B1/", {"week": WEEK}, format="json")
    assert response.status_code == 200 and response.json()["week"][5] == [["09:00", "12:00"]]
    assert client.get("/api/v1/calendar/", {"branch": "B1A"}).json()["hours_from"] == "福州分行"
    bad = client.put("/api/v1/working-hours/B1/", {"week": [[["17:00", "09:00"]]] + [[]] * 6}, format="json")
    assert bad.status_code == 400 and list(bad.json()["errors"]) == ["week"]
    assert WorkingHours.objects.get(branch=org.b1).week[0] == WEEK[0]
    assert client.put("/api/v1/working-hours/B9/", {"week": WEEK}, format="json").status_code == 404
    assert client.get("/api/v1/working-hours/").json()["results"][0]["branch"] == "B1"
    assert client.delete("/api/v1/working-hours/B1/").status_code == 204
    assert client.delete("/api/v1/working-hours/B1/").status_code == 404


def test_a_year_is_loaded_whole_or_not_at_all(org, client_for):
    client = client_for(org.ho_user)
    days = [{"date": "2027-01-01", "kind": "holiday", "name": "元旦"}, {"date": "2027-02-13", "kind": "班"}]
    loaded = client.post("/api/v1/calendar-years/", {"year": 2027, "days": days}, format="json")
    assert loaded.status_code == 201 and loaded.json() == {"year": 2027, "days_off": 1, "workdays": 1, "added": 2,
                                                           "removed": 0}
    assert client.get("/api/v1/calendar/", {"year": 2027}).json()["provisional"] is False
    assert 2027 in [y["year"] for y in client.get("/api/v1/calendar-years/").json()]
    bad = client.post("/api/v1/calendar-years/", {"year": 2028, "days": [
        {"date": "2028-01-01", "kind": "holiday"}, {"date": "2028-01-01", "kind": "holiday"}]}, format="json")
    assert bad.status_code == 400 and list(bad.json()["errors"]) == ["days"] and len(bad.json()["errors"]["days"]) == 1
    assert not CalendarYear.objects.filter(year=2028).exists()
    assert client.post("/api/v1/calendar-years/", {"year": 1800, "days": []}, format="json").status_code == 400


def test_the_schema_documents_the_calendar(org, client_for):
    schema = client_for(org.ho_user).get("/api/schema/", {"format": "json"}).json()
    for path in ("/api/v1/calendar/", "/api/v1/calendar-days/", "/api/v1/calendar-days/{id}/",
                 "/api/v1/working-hours/", "/api/v1/working-hours/{branch}/", "/api/v1/calendar-years/"):
        assert path in schema["paths"], path
