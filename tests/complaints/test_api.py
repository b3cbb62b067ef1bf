"""``/api/v1/complaints/`` and the settings endpoints: intake with field-level errors, the fields and formats the
issue names, every change as an action through the services, 409 on a stale version or a transition the table does
not allow, purpose-bound masking, SLA policies and the taxonomy (head office writes, others read)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import translation

from complaints.models import Category, Complaint, ComplaintEvent, SlaPolicy
from core.models import AuditEvent
from org.constants import Scope

from .builders import seeded

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=TZ)  # a Monday
URL = "/api/v1/complaints/"


@pytest.fixture(autouse=True)
def pinned():
    with time_machine.travel(NOW, tick=False), translation.override("en"):
        yield


@pytest.fixture
def cat(world):
    return seeded()


def intake(**extra):
    return {"channel": "hotline", "category": "card_fee", "description": "年费未经同意扣收",
            "received_at": "2026-03-02T10:00:00+08:00", **extra}


def test_intake_for_a_customer_answers_both_clocks_in_iso_with_offset(world, cat, client_for):
    r = client_for(world.sup_b1).post(URL, intake(customer_cif=world.c_rm.cif), format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["received_at"] == "2026-03-02T10:00:00+08:00"
    assert body["first_response_due"] == "2026-03-03T10:00:00+08:00"
    assert body["resolution_due"] == "2026-03-16T10:00:00+08:00"
    assert body["regulatory_due_date"] == "2026-03-17"
    assert body["first_responded_at"] is None and body["sla_state"] == "on_track" and body["paused_seconds"] == 0
    assert body["escalation_level"] == 0 and body["calendar_provisional"] is False
    assert body["branch"] == "B1" and body["customer_cif"] == world.c_rm.cif and body["version"] == 1


@pytest.mark.parametrize(("extra", "field"), [
    ({"received_at": "2026-03-02T16:00:00+08:00"}, "received_at"),  # an hour in the future
    ({"category": "no_such"}, "category"),
    ({"channel": "pigeon"}, "channel"),
    ({"complainants": 0}, "complainants"),
    ({"customer_cif": "NOPE"}, "customer_cif"),
    ({"complainant_name": "张三"}, "complainant_phone"),  # unidentified: a way to reach them
    ({"surprise": 1}, "surprise"),
])
def test_bad_intake_is_a_field_error_and_writes_nothing(world, cat, client_for, extra, field):
    body = {**intake(customer_cif=world.c_rm.cif), **extra}
    if field == "complainant_phone":
        body = intake(branch="B1", **extra)
    r = client_for(world.sup_b1).post(URL, body, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json()["errors"], r.json()
    assert not Complaint.objects.exists()


def test_the_workflow_through_api_actions_and_a_stale_version_is_a_409(world, cat, client_for):
    sup = client_for(world.sup_b1)
    c = sup.post(URL, intake(customer_cif=world.c_rm.cif), format="json").json()
    one = f"{URL}{c['id']}/"
    r = sup.post(one + "assign/", {"handler": "co_b1", "version": 1}, format="json")
    assert r.status_code == 200 and r.json()["handler"] == "co_b1" and r.json()["version"] == 2
    officer = client_for(world.co_b1)
    r = officer.post(one + "transition/", {"action": "acknowledge", "version": 1}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "conflict"
    r = officer.post(one + "transition/", {"action": "acknowledge", "version": 2}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    assert r.json()["first_responded_at"] == "2026-03-02T15:00:00+08:00"
    r = officer.post(one + "transition/", {"action": "acknowledge"}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "conflict"
    r = officer.post(one + "transition/", {"action": "wait_customer", "note": "请客户补充流水"}, format="json")
    assert r.json()["status"] == "pending_customer" and r.json()["sla_state"] == "paused"
    assert officer.post(one + "messages/", {"text": "已收到您的材料", "outgoing": True}, format="json").status_code == 200
    assert officer.post(one + "notes/", {"text": "内部：核对扣费记录"}, format="json").status_code == 201
    assert officer.post(one + "transition/", {"action": "resume"}, format="json").json()["status"] == "investigating"
    r = officer.post(one + "transition/", {"action": "resolve", "note": "退还年费"}, format="json")
    assert r.json()["status"] == "resolved" and r.json()["sla_state"] == "met" and r.json()["decided_on"] == "2026-03-02"
    r = officer.post(one + "transition/", {"action": "close"}, format="json")
    assert r.status_code == 400 and set(r.json()["errors"]) == {"resolution_summary", "root_cause", "remedy",
                                                                "remedies_told"}
    r = officer.post(one + "satisfaction/", {"score": 5, "note": "满意"}, format="json")
    assert r.status_code == 200 and r.json()["satisfaction"] == 5
    r = officer.post(one + "transition/", {"action": "close", "resolution_summary": "已退还", "root_cause": "fee_rule",
                                           "remedy": "退还年费 200 元", "remedies_told": True}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "closed"
    timeline = officer.get(one + "timeline/").json()
    kinds = [row["kind"] for row in timeline]
    assert kinds.count("transition") == 6 and "note" in kinds and "message" in kinds and "assigned" in kinds
    assert ComplaintEvent.objects.filter(complaint_id=c["id"]).count() == len(timeline)


def test_an_officer_not_handling_sees_the_complaint_masked_and_cannot_work_on_it(world, cat, client_for):
    c = client_for(world.sup_b1).post(URL, intake(customer_cif=world.c_rm.cif), format="json").json()
    officer = client_for(world.co_b1)
    body = officer.get(f"{URL}{c['id']}/").json()
    assert body["customer"] is None and body["customer_cif"] is None
    assert "*" in body["complainant"] and world.c_rm.name not in body["complainant"]
    r = officer.post(f"{URL}{c['id']}/transition/", {"action": "acknowledge"}, format="json")
    assert r.status_code == 403
    r = officer.post(f"{URL}{c['id']}/assign/", {"handler": "co_b1"}, format="json")  # takes it
    assert r.status_code == 200
    body = officer.get(f"{URL}{c['id']}/").json()
    assert body["complainant"] == world.c_rm.name and body["customer_cif"] == world.c_rm.cif


def test_extensions_holds_and_changes_through_the_api(world, cat, client_for):
    sup = client_for(world.sup_b1)
    c = sup.post(URL, intake(customer_cif=world.c_rm.cif), format="json").json()
    one = f"{URL}{c['id']}/"
    sup.post(one + "assign/", {"handler": "co_b1"}, format="json")
    officer = client_for(world.co_b1)
    assert officer.post(one + "extensions/", {"reason": ""}, format="json").json()["errors"].keys() == {"reason"}
    r = officer.post(one + "extensions/", {"reason": "需调取监控"}, format="json")
    assert r.status_code == 201 and r.json()["state"] == "requested"
    assert officer.post(one + "decide-extension/", {"approve": True, "complainant_told": True},
                        format="json").status_code == 403
    r = sup.post(one + "decide-extension/", {"approve": True}, format="json")
    assert r.status_code == 400 and "complainant_told" in r.json()["errors"]
    r = sup.post(one + "decide-extension/", {"approve": True, "complainant_told": True}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "approved"
    assert sup.get(one).json()["regulatory_due_date"] == "2026-04-01"
    r = officer.post(one + "hold/", {"held": True, "note": "申请第三方鉴定，已告知客户"}, format="json")
    assert r.status_code == 200 and r.json()["regulatory_held_since"] == "2026-03-02"
    r = sup.patch(one, {"priority": "urgent", "category": "nonsense"}, format="json")
    assert r.status_code == 400 and "category" in r.json()["errors"]
    r = sup.patch(one, {"priority": "urgent", "note": "客户情绪激动"}, format="json")
    assert r.status_code == 200 and r.json()["priority"] == "urgent"


def test_queue_filters_and_no_query_per_row(world, cat, client_for, django_assert_max_num_queries):
    sup = client_for(world.sup_b1)
    for _ in range(3):
        sup.post(URL, intake(customer_cif=world.c_rm.cif), format="json")
    sup.post(URL, intake(branch="B1", complainant_name="张三", complainant_phone="13800138000",
                         channel="counter"), format="json")
    with django_assert_max_num_queries(12):
        r = sup.get(URL + "?page_size=50")
    assert r.status_code == 200 and r.json()["count"] == 4
    assert sup.get(URL + "?channel=counter").json()["count"] == 1
    assert sup.get(URL + "?status=open&sla_state=on_track&overdue=false").json()["count"] == 4
    assert sup.get(URL + "?category=" + str(Category.objects.get(code="card").pk)).json()["count"] == 4
    assert sup.get(URL + "?status=closed").json()["count"] == 0
    assert sup.get(URL + "?unassigned=true").json()["count"] == 4
    r = sup.get(URL + "?status=bogus")
    assert r.status_code == 400 and "status" in r.json()["errors"]


def test_keys_read_with_complaints_read_and_write_with_complaints_write(world, cat, key_client):
    reader = key_client(scopes=[Scope.COMPLAINTS_READ])
    assert reader.get(URL).status_code == 200
    assert reader.post(URL, intake(customer_cif=world.c_rm.cif), format="json").status_code == 403
    writer = key_client(scopes=[Scope.COMPLAINTS_READ, Scope.COMPLAINTS_WRITE])
    r = writer.post(URL, intake(customer_cif=world.c_rm.cif), format="json")
    assert r.status_code == 201, r.content
    assert key_client(scopes=[Scope.CUSTOMERS_READ]).get(URL).status_code == 403
    assert AuditEvent.objects.filter(api_key=writer.api_key.pk).exists()


def test_sla_policies_and_categories_head_office_writes_others_read(world, cat, client_for):
    ho, sup = client_for(world.ho_user), client_for(world.sup_b1)
    assert sup.get("/api/v1/sla-policies/").status_code == 200
    body = {"name": "紧急投诉", "priority": "urgent", "first_response_seconds": 7200,
            "first_response_mode": "calendar", "resolution_seconds": 3600, "resolution_mode": "business"}
    assert sup.post("/api/v1/sla-policies/", body, format="json").status_code == 403
    r = ho.post("/api/v1/sla-policies/", body, format="json")
    assert r.status_code == 400 and "first_response_seconds" in r.json()["errors"]
    r = ho.post("/api/v1/sla-policies/", {**body, "resolution_seconds": 8 * 3600}, format="json")
    assert r.status_code == 201 and r.json()["priority"] == "urgent"
    default = SlaPolicy.objects.get(is_default=True)
    r = ho.patch(f"/api/v1/sla-policies/{default.pk}/", {"active": False}, format="json")
    assert r.status_code == 400 and "active" in r.json()["errors"]
    r = ho.post("/api/v1/complaint-categories/", {"code": "atm_card_eaten", "name": "ATM 吞卡", "parent": "card_fee"},
                format="json")
    assert r.status_code == 400 and "parent" in r.json()["errors"]
    r = ho.post("/api/v1/complaint-categories/", {"code": "atm_card_eaten", "name": "ATM 吞卡", "parent": "card"},
                format="json")
    assert r.status_code == 201
    assert client_for(world.rm).get("/api/v1/complaint-categories/").status_code == 404
