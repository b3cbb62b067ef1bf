"""The working-calendar page: who sees it and who edits it (head office), branch scope (404 outside it), every
edit through the services with field-level errors and nothing changed on a refusal, the confirmation before a
removal, escaping, a fixed number of queries."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from org.constants import CalendarKind
from org.models import CalendarDay, CalendarYear, WorkingHours
from org.services import calendar_day_set
from tests.org.builders import build_org

pytestmark = pytest.mark.django_db
URL = "/calendar/"


@pytest.fixture
def org(db):
    return build_org()


def client_for(user):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.parametrize("who, status, editable", [
    ("ho_user", 200, True), ("sup_b1", 200, False), ("rm", 200, False), ("co_b1", 200, False)])
def test_every_member_of_staff_reads_it_and_head_office_edits_it(org, who, status, editable):
    response = client_for(getattr(org, who)).get(URL)
    assert response.status_code == status
    html = response.content.decode()
    assert ('data-testid="day-form"' in html) is editable
    assert ('data-testid="import-form"' in html) is editable
    assert 'data-testid="calendar-days"' in html


def test_anonymous_is_sent_to_sign_in(org):
    response = client_for(None).get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_branch_outside_the_scope_is_404_and_an_unknown_year_too(org):
    sup = client_for(org.sup_b1)
    assert sup.get(URL + "?branch=B1A").status_code == 200
    assert sup.get(URL + "?branch=B2").status_code == 404
    assert sup.get(URL + "?year=abc").status_code == 404
    assert sup.get(URL + "?year=3000").status_code == 404
    assert client_for(org.ho_user).get(URL + "?branch=NOPE").status_code == 404


@pytest.mark.parametrize("who", ["sup_b1", "rm", "co_b1"])
def test_only_head_office_changes_it(org, who):
    client = client_for(getattr(org, who))
    response = client.post(URL, {"action": "day", "day-day": "2026-03-04", "day-kind": CalendarKind.HOLIDAY})
    assert response.status_code == 403
    assert client.get("/calendar/day/remove/?day=2026-02-16").status_code == 404
    assert client.post("/calendar/day/remove/", {"day": "2026-02-16"}).status_code == 404
    assert CalendarDay.objects.filter(branch=None, day=dt.date(2026, 2, 16)).exists()
    assert not CalendarDay.objects.filter(day=dt.date(2026, 3, 4)).exists()


def test_head_office_sets_a_branch_day_and_a_refused_one_changes_nothing(org):
    client = client_for(org.ho_user)
    response = client.post(URL, {"action": "day", "year": "2026", "branch": "B1", "day-day": "2026-03-04",
                                 "day-kind": CalendarKind.HOLIDAY, "day-name": "<b>分行庆典</b>"})
    assert response.status_code == 302 and response["Location"] == "/calendar/?year=2026&branch=B1"
    entry = CalendarDay.objects.get(branch=org.b1, day=dt.date(2026, 3, 4))
    assert entry.kind == CalendarKind.HOLIDAY
    page = client.get(response["Location"]).content.decode()
    assert "&lt;b&gt;分行庆典&lt;/b&gt;" in page and "<b>分行庆典" not in page
    refused = client.post(URL, {"action": "day", "branch": "B1", "day-day": "2026-03-05",
                                "day-kind": CalendarKind.WORKDAY})
    assert refused.status_code == 400
    assert 'data-field-error="kind"' in refused.content.decode()
    assert not CalendarDay.objects.filter(day=dt.date(2026, 3, 5)).exists()
    bad_date = client.post(URL, {"action": "day", "day-day": "2026-02-30", "day-kind": CalendarKind.HOLIDAY})
    assert bad_date.status_code == 400 and 'data-field-error="day"' in bad_date.content.decode()


def test_working_hours_are_edited_per_branch_and_inherited_again(org):
    client = client_for(org.ho_user)
    week = {f"hours-day{k}": "09:00-12:00, 13:30-17:30" for k in range(5)} | {"hours-day5": "09:00-12:00"}
    response = client.post(URL, {"action": "hours", "branch": "B1", **week})
    assert response.status_code == 302
    assert WorkingHours.objects.get(branch=org.b1).week[5] == [["09:00", "12:00"]]
    outlet = client.get(URL + "?branch=B1A").content.decode()
    assert "Set by 福州分行." in outlet
    bad = client.post(URL, {"action": "hours", "branch": "B1", "hours-day0": "nine to five"})
    assert bad.status_code == 400 and 'data-field-error="day0"' in bad.content.decode()
    overlap = client.post(URL, {"action": "hours", "branch": "B1", "hours-day0": "09:00-12:00, 11:00-13:00"})
    assert overlap.status_code == 400
    assert "Monday: intervals must be in order and must not overlap." in overlap.content.decode()
    assert WorkingHours.objects.get(branch=org.b1).week[0] == [["09:00", "12:00"], ["13:30", "17:30"]]
    assert client.post(URL, {"action": "hours_clear", "branch": "B1"}).status_code == 302
    assert not WorkingHours.objects.exists()


def csv_file(text):
    return SimpleUploadedFile("2027.csv", text.encode("utf-8-sig"), content_type="text/csv")


def test_a_year_is_imported_from_a_file_after_confirming(org):
    client = client_for(org.ho_user)
    text = "date,kind,name\n2027-01-01,休,元旦\n2027-02-05,休,春节\n2027-02-13,班,春节\n"
    unconfirmed = client.post(URL, {"action": "import", "import-year": "2027", "import-file": csv_file(text)})
    assert unconfirmed.status_code == 400 and 'data-field-error="confirm"' in unconfirmed.content.decode()
    assert not CalendarYear.objects.filter(year=2027).exists()
    response = client.post(URL, {"action": "import", "import-year": "2027", "import-confirm": "on",
                                 "import-file": csv_file(text)})
    assert response.status_code == 302
    assert CalendarYear.objects.filter(year=2027).exists()
    page = client.get(URL + "?year=2027").content.decode()
    assert 'data-testid="calendar-provisional"' not in page and "春节" in page
    bad = client.post(URL, {"action": "import", "import-year": "2027", "import-confirm": "on",
                            "import-file": csv_file("2027-01-01,休,\n2027-01-01,休,\n2027-02-30,休,\n")})
    assert bad.status_code == 400
    html = bad.content.decode()
    assert "Row 2: the date is listed twice." in html and "Row 3: the date is not a date" in html
    assert CalendarDay.objects.filter(branch=None, day__year=2027).count() == 3
    binary = client.post(URL, {"action": "import", "import-year": "2027", "import-confirm": "on",
                               "import-file": SimpleUploadedFile("x.csv", b"\xff\xfe\x00bad")})
    assert binary.status_code == 400 and "Save the file as UTF-8 CSV." in binary.content.decode()


def test_a_removal_is_confirmed_first(org):
    calendar_day_set(branch=org.b2, day=dt.date(2026, 3, 4), kind=CalendarKind.HOLIDAY, name="厦门", actor=org.ho_user)
    client = client_for(org.ho_user)
    confirm = client.get("/calendar/day/remove/?day=2026-03-04&branch=B2")
    assert confirm.status_code == 200 and 'data-testid="remove-confirm"' in confirm.content.decode()
    assert CalendarDay.objects.filter(branch=org.b2).exists()
    assert client.get("/calendar/day/remove/?day=2026-03-05&branch=B2").status_code == 404
    done = client.post("/calendar/day/remove/", {"day": "2026-03-04", "branch": "B2"})
    assert done.status_code == 302 and not CalendarDay.objects.filter(branch=org.b2).exists()


def test_head_office_is_warned_before_the_covered_years_run_out(org, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 5, 10, tzinfo=dt.UTC))
    assert 'data-testid="calendar-warning"' in client_for(org.ho_user).get(URL).content.decode()
    assert 'data-testid="calendar-warning"' not in client_for(org.sup_b1).get(URL).content.decode()
    time_machine.move_to(dt.datetime(2026, 10, 1, 10, tzinfo=dt.UTC))
    assert 'data-testid="calendar-warning"' not in client_for(org.ho_user).get(URL).content.decode()


def test_the_page_makes_a_fixed_number_of_queries(org, django_assert_max_num_queries):
    for k in range(20):
        calendar_day_set(branch=org.b1, day=dt.date(2026, 3, 2) + dt.timedelta(days=7 * k),
                         kind=CalendarKind.HOLIDAY, actor=org.ho_user)
    client = client_for(org.ho_user)
    with django_assert_max_num_queries(12):
        assert client.get(URL + "?branch=B1A").status_code == 200
