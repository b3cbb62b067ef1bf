"""Complaint pages: the queue (filters, SLA badges, no query per row), intake from the customer page and the
complaints page (field errors, nothing saved), the complaint page with its timeline and actions (a stale version is
a message on the page and what was typed is kept), the supervisor board, the register export (BOM, Chinese labels,
masked, neutralised, logged)."""

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import time_machine
from django.test import Client

from complaints import services
from complaints.constants import Action, Channel, SlaState, Status
from complaints.models import Complaint, ComplaintEvent
from org.models import PiiAccessLog

from .builders import seeded

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 3, 10, 15, 0, tzinfo=TZ)


@pytest.fixture(autouse=True)
def pinned():
    with time_machine.travel(NOW, tick=False):
        yield


def client_for(user, language="en"):
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = language
    return client


@pytest.fixture
def cat(world):
    return seeded()


def open_one(world, cat, *, received=None, customer=None, **kwargs):
    return services.complaint_open(actor=world.sup_b1, customer=customer or world.c_rm, channel=Channel.HOTLINE,
                                   category=cat, description="年费未经同意扣收",
                                   received_at=received or NOW - dt.timedelta(days=1), now=NOW, **kwargs)


def test_intake_from_the_customer_page(world, cat):
    rm = client_for(world.rm)
    page = rm.get(f"/customers/{world.c_rm.pk}/")
    assert b'data-testid="complaints-panel"' in page.content
    assert f"/complaints/new/?customer={world.c_rm.pk}".encode() in page.content
    form = rm.get(f"/complaints/new/?customer={world.c_rm.pk}")
    assert form.status_code == 200 and world.c_rm.name.encode() in form.content
    r = rm.post(f"/complaints/new/?customer={world.c_rm.pk}", {
        "customer": world.c_rm.pk, "channel": "counter", "category": cat.pk, "description": "柜台排队过久",
        "received_at": "2026-03-10T14:30", "complainants": 1, "priority": "normal"})
    assert r.status_code == 302, r.content.decode()[:2000]
    complaint = Complaint.objects.get()
    assert r["Location"] == f"/complaints/{complaint.pk}/" and complaint.customer == world.c_rm
    assert complaint.received_at == dt.datetime(2026, 3, 10, 14, 30, tzinfo=TZ)
    assert world.c_rm.name.encode() in rm.get(f"/customers/{world.c_rm.pk}/").content  # the panel lists it
    assert complaint.number.encode() in rm.get(f"/customers/{world.c_rm.pk}/").content


def test_intake_refuses_bad_input_field_by_field_and_saves_nothing(world, cat):
    sup = client_for(world.sup_b1)
    r = sup.post("/complaints/new/", {"cif": "", "complainant_name": "", "channel": "counter", "category": cat.pk,
                                      "description": "x", "received_at": "2026-03-10T16:00", "complainants": 1,
                                      "priority": "normal"})
    assert r.status_code == 400
    errors = {e for e in ("complainant_name", "complainant_phone", "received_at", "branch")
              if f'data-field-error="{e}"'.encode() in r.content}
    assert errors == {"complainant_name", "complainant_phone", "received_at", "branch"}
    r = sup.post("/complaints/new/", {"cif": "NOPE", "channel": "counter", "category": cat.pk, "description": "x",
                                      "received_at": "2026-03-10T10:00", "complainants": 1, "priority": "normal"})
    assert r.status_code == 400 and b'data-field-error="cif"' in r.content
    assert not Complaint.objects.exists()
    r = sup.post("/complaints/new/", {"complainant_name": "张三", "complainant_phone": "13800138000", "branch":
                                      world.b1.pk, "channel": "letter", "category": cat.pk, "description": "来信",
                                      "received_at": "2026-03-09T10:00", "complainants": 1, "priority": "high"})
    assert r.status_code == 302 and Complaint.objects.get().complainant_name == "张三"


def test_queue_shows_badges_and_filters_without_a_query_per_row(world, cat, django_assert_max_num_queries):
    sup = client_for(world.sup_b1)
    open_one(world, cat)
    sup.get("/complaints/")  # the session and the language settle
    with django_assert_max_num_queries(99) as one_row:
        sup.get("/complaints/")
    for k in range(1, 6):
        open_one(world, cat, received=NOW - dt.timedelta(days=k * 3))
    with django_assert_max_num_queries(len(one_row.captured_queries)):  # six rows: no more queries than one
        r = sup.get("/complaints/")
    assert r.status_code == 200
    assert r.content.count(b'data-testid="queue-row"') == 6
    assert b'data-testid="sla-badge"' in r.content and b"data-countdown=" in r.content
    assert client_for(world.sup_b1).get("/complaints/?sla_state=breached").content.count(b'data-testid="queue-row"') \
        == Complaint.objects.filter(sla_state=SlaState.BREACHED).count()
    r = sup.get("/complaints/?status=nonsense")
    assert r.status_code == 200 and b'data-testid="queue-row"' not in r.content and b"alert-danger" in r.content


def test_the_complaint_page_acts_and_a_stale_version_keeps_what_was_typed(world, cat):
    c = open_one(world, cat)
    services.complaint_assign(actor=world.sup_b1, complaint=c, handler=world.co_b1, now=NOW)
    officer = client_for(world.co_b1)
    page = officer.get(f"/complaints/{c.pk}/")
    assert page.status_code == 200 and b'data-testid="timeline"' in page.content
    assert world.c_rm.name.encode() in page.content  # the handler sees the complainant
    r = officer.post(f"/complaints/{c.pk}/act/", {"action": Action.ACKNOWLEDGE, "version": 1, "note": "已电话联系客户"})
    assert r.status_code == 409
    assert "已电话联系客户".encode() in r.content and b"alert" in r.content  # the note is kept, the conflict said
    r = officer.post(f"/complaints/{c.pk}/act/", {"action": Action.ACKNOWLEDGE, "version": 2, "note": "已电话联系"})
    assert r.status_code == 302
    r = officer.post(f"/complaints/{c.pk}/act/", {"action": Action.CLOSE, "version": 3})
    assert r.status_code == 409  # the table does not close an acknowledged complaint
    c.refresh_from_db()
    assert c.status == Status.ACKNOWLEDGED
    officer.post(f"/complaints/{c.pk}/act/", {"action": Action.RESOLVE, "version": 3})
    r = officer.post(f"/complaints/{c.pk}/act/", {"action": Action.CLOSE, "version": 4, "resolution_summary": "已退",
                                                  "root_cause": "", "remedy": ""})
    assert r.status_code == 400
    for field in ("root_cause", "remedy", "remedies_told"):
        assert f'data-field-error="{field}"'.encode() in r.content
    assert "已退".encode() in r.content
    assert officer.post(f"/complaints/{c.pk}/note/", {"text": "内部备注"}).status_code == 302
    assert officer.post(f"/complaints/{c.pk}/satisfaction/", {"score": 4, "follow_up": "reopen"}).status_code == 302
    assert ComplaintEvent.objects.filter(complaint=c, kind="note").count() == 1


def test_an_officer_not_handling_sees_the_complaint_masked(world, cat):
    c = open_one(world, cat)
    page = client_for(world.co_b1).get(f"/complaints/{c.pk}/")
    assert page.status_code == 200 and world.c_rm.name.encode() not in page.content
    assert world.c_rm.mobile.encode() not in page.content and b'data-testid="take"' in page.content
    assert world.c_rm.name.encode() not in client_for(world.co_b1).get("/complaints/").content


def test_the_board_lists_what_needs_a_supervisor(world, cat):
    late = open_one(world, cat, received=NOW - dt.timedelta(days=20))
    held = open_one(world, cat, received=NOW - dt.timedelta(days=2))
    services.complaint_act(actor=world.sup_b1, complaint=held, action=Action.ACKNOWLEDGE, now=NOW)
    services.complaint_act(actor=world.sup_b1, complaint=held, action=Action.WAIT_CUSTOMER, now=NOW)
    services.extension_request(actor=world.sup_b1, complaint=late, reason="需调取录像", now=NOW)
    r = client_for(world.sup_b1).get("/complaints/board/")
    assert r.status_code == 200
    text = r.content.decode()
    breached = text[text.index('data-testid="board-breached"'):text.index('data-testid="board-regulatory"')]
    assert late.number in breached and held.number not in breached
    assert late.number in text[text.index('data-testid="board-extensions"'):]
    assert client_for(world.rm).get("/complaints/board/").status_code == 403


def test_the_register_export_opens_in_chinese_excel_masked_neutralised_and_logged(world, cat):
    services.complaint_open(actor=world.sup_b1, branch=world.b1, complainant_name="=HYPERLINK(\"http://x\")",
                            complainant_phone="13812345678", channel=Channel.EMAIL, category=cat,
                            description="来信", received_at=NOW - dt.timedelta(days=2), now=NOW)
    open_one(world, cat)
    sup = client_for(world.sup_b1, "zh-hans")
    r = sup.get("/complaints/export/?received_from=2026-03-01&received_to=2026-03-31&format=csv")
    assert r.status_code == 200
    body = b"".join(r.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][0] == "投诉编号" and len(rows) == 3
    flat = str(rows)
    assert "13812345678" not in flat and "138****5678" in flat
    assert "'=HYPERLINK" in flat
    assert PiiAccessLog.objects.filter(field="export", user=world.sup_b1).count() == 1
    r = sup.get("/complaints/export/?received_from=2026-03-01&received_to=2026-03-31&format=xlsx")
    book = openpyxl.load_workbook(io.BytesIO(b"".join(r.streaming_content)))
    assert book.active.max_row == 3
    r = sup.get("/complaints/export/?received_from=2026-03-31&received_to=2026-03-01&format=csv")
    assert r.status_code == 400 and b'data-field-error="received_to"' in r.content
    assert client_for(world.rm).get("/complaints/export/").status_code == 403


def test_the_phone_is_masked_until_revealed_and_the_reveal_is_logged(world, cat):
    c = open_one(world, cat)
    sup = client_for(world.sup_b1)
    page = sup.get(f"/complaints/{c.pk}/")
    assert world.c_rm.mobile.encode() not in page.content and b'data-testid="reveal-contact"' in page.content
    r = sup.post(f"/complaints/{c.pk}/reveal/")
    assert r.status_code == 200 and world.c_rm.mobile.encode() in r.content
    log = PiiAccessLog.objects.get(field="mobile")
    assert log.user == world.sup_b1 and log.customer_id == world.c_rm.pk and c.number in log.reason
    assert client_for(world.co_b1).post(f"/complaints/{c.pk}/reveal/").status_code == 403  # not their complaint
    assert client_for(world.sup_b2).post(f"/complaints/{c.pk}/reveal/").status_code == 404
