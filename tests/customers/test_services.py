"""customers/services.py on PostgreSQL: validation, scope of writes, audit rows, PII log, interactions, tasks."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import translation

from core.errors import Conflict, NotPermitted, ValidationFailed
from customers import services
from customers.constants import CustomerKind, Gender, IdType, TaskStatus
from customers.ingest.children import snapshots_upsert
from customers.models import Customer, CustomerChange, FinancialSnapshot, FollowUpTask, Interaction
from org.access import ApiClient
from org.models import PiiAccessLog

from ..org.builders import ApiKeyFactory
from .builders import CustomerFactory, make_credit_code, make_resident_id

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """Messages are matched in English; the Chinese catalogue is checked in test_api."""
    with translation.override("en"):
        yield


SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 22, 10, 30, tzinfo=SHANGHAI)
TODAY = NOW.date()
BIRTH = dt.date(1985, 6, 15)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def individual(world, **over):
    data = {"cif": "C900000001", "kind": CustomerKind.INDIVIDUAL, "name": "黄晓明", "id_type": IdType.RESIDENT_ID,
                "id_number": make_resident_id(BIRTH, Gender.MALE), "mobile": "+86 139 0000 1111", "branch": world.b1,
                "rm": world.rm}
    data.update(over)
    return data


def corporate(world, **over):
    data = {"cif": "E900000001", "kind": CustomerKind.CORPORATE, "name": "福州海峡贸易有限公司",
                "credit_code": make_credit_code(7), "branch": world.b1, "rm": world.rm}
    data.update(over)
    return data


def errors_of(excinfo) -> dict:
    return excinfo.value.fields


# --- customer_create: field-level validation ---

class TestCustomerCreate:
    def test_valid_individual_is_normalised_and_audited(self, world, frozen):
        c = services.customer_create(actor=world.sup_b1, data=individual(world), today=TODAY)
        c.refresh_from_db()
        assert c.mobile == "13900001111"
        assert c.birth_date == BIRTH
        assert c.gender == Gender.MALE
        assert c.name_bigrams == ["晓明", "黄晓"]
        change = CustomerChange.objects.get(customer=c)
        assert change.actor == world.sup_b1
        assert change.api_key is None
        assert change.source == "web"
        assert change.changes["name"] == [None, "黄晓明"]
        assert change.changes["branch_id"] == [None, world.b1.pk]

    def test_lowercase_x_stored_upper(self, world):
        number = "11010519491231002x"
        c = services.customer_create(actor=world.sup_b1, data=individual(world, id_number=number), today=TODAY)
        assert c.id_number == "11010519491231002X"
        assert c.gender == Gender.FEMALE and c.birth_date == dt.date(1949, 12, 31)

    def test_15_digit_id_stored_as_18(self, world):
        c = services.customer_create(actor=world.sup_b1, data=individual(world, id_number="110105491231002"),
                                     today=TODAY)
        assert c.id_number == "11010519491231002X"

    @pytest.mark.parametrize(("id_type", "given", "stored"), [
        (IdType.PASSPORT, "e1234567 8", "E12345678"), (IdType.HK_MACAO_PERMIT, "m12345678", "M12345678"),
        (IdType.TAIWAN_PERMIT, "12345678", "12345678"), (IdType.FOREIGN_PR, "usa350081010012", "USA350081010012")])
    def test_other_id_types_stored_compact_and_upper(self, world, id_type, given, stored):
        c = services.customer_create(actor=world.sup_b1, today=TODAY, data=individual(
            world, id_type=id_type, id_number=given))
        assert c.id_number == stored

    def test_a_corporate_id_number_is_checked_too(self, world):
        with pytest.raises(ValidationFailed) as exc:
            services.customer_create(actor=world.sup_b1, today=TODAY, data=corporate(
                world, id_type=IdType.PASSPORT, id_number="<b>x</b>"))
        assert "id_number" in errors_of(exc)

    def test_valid_corporate(self, world):
        c = services.customer_create(actor=world.sup_b1, data=corporate(world, credit_code="91350100m000100y43"),
                                     today=TODAY)
        assert c.credit_code == "91350100M000100Y43"

    @pytest.mark.parametrize(("over", "field"), [
        ({"id_number": "11010519491231002"}, "id_number"),  # 17 chars
        ({"id_number": "110105194912310021"}, "id_number"),  # wrong check char
        ({"birth_date": dt.date(1985, 6, 16)}, "birth_date"),  # contradicts the ID
        ({"gender": Gender.FEMALE}, "gender"),  # contradicts the ID
        ({"mobile": "12800138000"}, "mobile"),
        ({"mobile": "138001380001"}, "mobile"),
        ({"credit_code": "91350100M000100Y43"}, "credit_code"),  # individuals have no credit code
        ({"id_type": "", "id_number": "E12345678"}, "id_type"),
        ({"id_type": IdType.PASSPORT, "id_number": "<SCRIPT SRC=//x.example/a.js>"}, "id_number"),
        ({"id_type": IdType.HK_MACAO_PERMIT, "id_number": "<img src=x onerror=alert(1)>"}, "id_number"),
        ({"id_type": IdType.TAIWAN_PERMIT, "id_number": "1234567"}, "id_number"),
        ({"id_type": IdType.FOREIGN_PR, "id_number": "US350081010012"}, "id_number"),
        ({"risk_level": "C3"}, "risk_assessed_on"),
        ({"name": ""}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"lifecycle_stage": "nirvana"}, "lifecycle_stage"),
        ({"tags": ["x" * 31]}, "tags"),
        ({"notes": "备" * 2001}, "notes"),
        ({"branch": None}, "branch"),
    ])
    def test_field_level_errors(self, world, over, field):
        before = Customer.objects.count()
        with pytest.raises(ValidationFailed) as exc:
            services.customer_create(actor=world.sup_b1, data=individual(world, **over), today=TODAY)
        assert field in errors_of(exc), errors_of(exc)
        assert all(isinstance(m, str) and m for m in errors_of(exc)[field])
        assert Customer.objects.count() == before  # nothing half-saved
        assert not CustomerChange.objects.exists()

    def test_id_birth_date_mismatch_names_the_date_from_the_id(self, world):
        with pytest.raises(ValidationFailed) as exc:
            services.customer_create(actor=world.sup_b1, data=individual(world, birth_date=dt.date(1990, 1, 1)),
                                     today=TODAY)
        assert "1985-06-15" in errors_of(exc)["birth_date"][0]

    def test_several_errors_reported_together(self, world):
        with pytest.raises(ValidationFailed) as exc:
            services.customer_create(actor=world.sup_b1, today=TODAY, data=individual(
                world, id_number="110105194912310021", mobile="123", email="x"))
        assert {"id_number", "mobile", "email"} <= set(errors_of(exc))

    def test_future_birth_date_in_id_rejected(self, world, frozen):
        number = make_resident_id(dt.date(2026, 11, 23), Gender.MALE)
        with pytest.raises(ValidationFailed) as exc:
            services.customer_create(actor=world.sup_b1, data=individual(world, id_number=number), today=TODAY)
        assert "id_number" in errors_of(exc)
        # the day after, the same number is valid
        c = services.customer_create(actor=world.sup_b1, data=individual(world, id_number=number),
                                     today=dt.date(2026, 11, 23))
        assert c.birth_date == dt.date(2026, 11, 23)

    def test_future_birth_date_without_resident_id_rejected(self, world):
        data = individual(world, id_type=IdType.PASSPORT, id_number="E12345678", birth_date=TODAY + dt.timedelta(1))
        with pytest.raises(ValidationFailed) as exc:
            services.customer_create(actor=world.sup_b1, data=data, today=TODAY)
        assert "birth_date" in errors_of(exc)

    @pytest.mark.parametrize(("code", "fragment"), [
        ("91350100M000100Y44", "check character"),
        ("91350100M000100YI3", "I"),
        ("91350100M000100Y4", "18"),
        ("", "credit code"),
    ])
    def test_bad_credit_code(self, world, code, fragment):
        with pytest.raises(ValidationFailed) as exc:
            services.customer_create(actor=world.sup_b1, data=corporate(world, credit_code=code), today=TODAY)
        assert fragment in errors_of(exc)["credit_code"][0]

    def test_duplicate_cif(self, world):
        with pytest.raises(ValidationFailed) as exc:
            services.customer_create(actor=world.sup_b1, data=individual(world, cif=world.c_rm.cif), today=TODAY)
        assert "cif" in errors_of(exc)
        assert Customer.objects.filter(cif=world.c_rm.cif).count() == 1

    def test_rm_creates_into_own_book(self, world):
        c = services.customer_create(actor=world.rm, data=individual(world, rm=None, branch=None), today=TODAY)
        assert c.rm == world.rm and c.branch == world.b1

    def test_rm_cannot_create_for_another_rm(self, world):
        # The service puts the customer in the RM's own book whatever the form said.
        c = services.customer_create(actor=world.rm, data=individual(world, rm=world.other_rm), today=TODAY)
        assert c.rm == world.rm

    @pytest.mark.parametrize(("actor", "placement", "field"), [
        pytest.param("rm", {"branch": "b2"}, "branch", id="rm-in-another-branch"),
        pytest.param("sup_b1", {"branch": "b2", "rm": "rm_b2"}, "branch", id="supervisor-outside-subtree"),
        pytest.param("ho_user", {"rm": "rm_b2"}, "rm", id="rm-not-working-in-the-branch"),
        pytest.param("ho_user", {"rm": "sup_b1"}, "rm", id="rm-field-not-a-relationship-manager"),
    ])
    def test_a_placement_outside_the_rules_is_refused_on_its_field(self, world, actor, placement, field):
        data = individual(world, **{k: getattr(world, v) for k, v in placement.items()})
        with pytest.raises(ValidationFailed) as exc:
            services.customer_create(actor=getattr(world, actor), data=data, today=TODAY)
        assert field in errors_of(exc)
        assert not Customer.objects.filter(cif=data["cif"]).exists()

    def test_supervisor_may_place_customer_in_outlet_below(self, world):
        c = services.customer_create(actor=world.sup_b1, data=individual(world, branch=world.b1a), today=TODAY)
        assert c.branch == world.b1a

    def test_complaint_officer_cannot_create(self, world):
        with pytest.raises(NotPermitted):
            services.customer_create(actor=world.co_b1, data=individual(world), today=TODAY)

    def test_api_key_limited_to_branch(self, world):
        key = ApiKeyFactory(branch=world.b2)
        with pytest.raises(ValidationFailed) as exc:
            services.customer_create(actor=ApiClient(key), data=individual(world), today=TODAY, source="api")
        assert "branch" in errors_of(exc)
        c = services.customer_create(actor=ApiClient(key), data=individual(world, branch=world.b2, rm=world.rm_b2),
                                     today=TODAY, source="api")
        change = CustomerChange.objects.get(customer=c)
        assert change.api_key == key and change.actor is None and change.source == "api"

    def test_api_key_without_write_scope_cannot_create(self, world):
        key = ApiKeyFactory(scopes=["customers:read"])
        with pytest.raises(NotPermitted):
            services.customer_create(actor=ApiClient(key), data=individual(world), today=TODAY)


# --- customer_update ---

class TestCustomerUpdate:
    def test_audit_row_has_old_and_new(self, world):
        c = world.c_rm
        old_mobile = c.mobile
        services.customer_update(actor=world.rm, customer=c, today=TODAY,
                                 data={"mobile": "0086 138-0013-8000", "occupation": "教师"})
        change = CustomerChange.objects.get(customer=c)
        assert change.actor == world.rm
        assert change.changes == {"mobile": [old_mobile, "13800138000"], "occupation": ["", "教师"]}
        c.refresh_from_db()
        assert c.mobile == "13800138000"

    def test_no_change_no_audit_row(self, world):
        services.customer_update(actor=world.rm, customer=world.c_rm, data={"name": world.c_rm.name}, today=TODAY)
        assert not CustomerChange.objects.exists()

    def test_name_change_refreshes_bigrams(self, world):
        c = services.customer_update(actor=world.rm, customer=world.c_rm, data={"name": "张明"}, today=TODAY)
        c.refresh_from_db()
        assert c.name_bigrams == ["张明"]

    def test_failed_update_changes_nothing(self, world):
        c = world.c_rm
        with pytest.raises(ValidationFailed) as exc:
            services.customer_update(actor=world.rm, customer=c, today=TODAY,
                                     data={"occupation": "教师", "mobile": "12345"})
        assert "mobile" in errors_of(exc)
        c.refresh_from_db()
        assert c.occupation == ""
        assert not CustomerChange.objects.exists()

    def test_rm_can_only_keep_customers_in_own_book(self, world):
        with pytest.raises(ValidationFailed) as exc:
            services.customer_update(actor=world.rm, customer=world.c_rm, data={"rm": world.other_rm}, today=TODAY)
        assert "rm" in errors_of(exc)
        world.c_rm.refresh_from_db()
        assert world.c_rm.rm == world.rm

    def test_supervisor_hands_over_inside_branch(self, world):
        c = services.customer_update(actor=world.sup_b1, customer=world.c_rm, data={"rm": world.other_rm},
                                     today=TODAY)
        assert c.rm == world.other_rm
        assert CustomerChange.objects.get(customer=c).changes["rm_id"] == [world.rm.pk, world.other_rm.pk]

    def test_supervisor_cannot_move_customer_out_of_subtree(self, world):
        with pytest.raises(ValidationFailed) as exc:
            services.customer_update(actor=world.sup_b1, customer=world.c_rm,
                                     data={"branch": world.b2, "rm": world.rm_b2}, today=TODAY)
        assert "branch" in errors_of(exc)

    def test_duplicate_cif_on_update(self, world):
        with pytest.raises(ValidationFailed) as exc:
            services.customer_update(actor=world.ho_user, customer=world.c_rm,
                                     data={"cif": world.customers["c_b2"].cif},
                                     today=TODAY)
        assert "cif" in errors_of(exc)

    def test_changing_id_number_must_agree_with_stored_birth_date(self, world):
        other = make_resident_id(dt.date(1970, 1, 1), world.c_rm.gender)
        with pytest.raises(ValidationFailed) as exc:
            services.customer_update(actor=world.rm, customer=world.c_rm, data={"id_number": other}, today=TODAY)
        assert "birth_date" in errors_of(exc)
        c = services.customer_update(actor=world.rm, customer=world.c_rm, today=TODAY,
                                     data={"id_number": other, "birth_date": dt.date(1970, 1, 1)})
        assert c.id_number == other

    def test_complaint_officer_cannot_update(self, world):
        with pytest.raises(NotPermitted):
            services.customer_update(actor=world.co_b1, customer=world.c_rm, data={"occupation": "x"}, today=TODAY)


# --- snapshots: one write path, the bulk pipeline (core banking's API, file imports) ---

def snapshots(world, *records):
    return snapshots_upsert(list(records), actor=world.ho_user, today=TODAY)


class TestSnapshots:
    def test_upsert_sets_latest_figures_and_is_idempotent(self, world):
        c = world.c_rm
        record = {"cif": c.cif, "period": "2026-10-01", "aum": "880000.00", "aum_avg": "850000.00",
                  "last_txn_date": "2026-10-30"}
        assert snapshots(world, record).created == 1
        assert snapshots(world, record).unchanged == 1
        assert FinancialSnapshot.objects.filter(customer=c, period=dt.date(2026, 10, 1)).count() == 1
        c.refresh_from_db()
        assert c.aum_latest == Decimal("880000.00")
        assert c.last_txn_date == dt.date(2026, 10, 30)

    def test_older_period_does_not_replace_latest(self, world):
        c = world.c_rm
        snapshots(world, {"cif": c.cif, "period": "2026-10-01", "aum": "10"})
        snapshots(world, {"cif": c.cif, "period": "2025-01-01", "aum": "99"})
        c.refresh_from_db()
        assert c.aum_latest == Decimal(10)

    @pytest.mark.parametrize("period", ["2026-10-02", "2026-12-01"])
    def test_bad_period(self, world, period):
        result = snapshots(world, {"cif": world.c_rm.cif, "period": period})
        assert result.rejected == 1 and [e["field"] for e in result.errors] == ["period"]

    @pytest.mark.parametrize("field", ["aum", "deposits", "loans", "wealth"])
    def test_negative_money_is_a_field_error(self, world, field):
        result = snapshots(world, {"cif": world.c_rm.cif, "period": "2026-10-01", field: "-1.00"})
        assert result.rejected == 1 and [e["field"] for e in result.errors] == [field]
        assert not FinancialSnapshot.objects.filter(customer=world.c_rm, period=dt.date(2026, 10, 1)).exists()

    def test_credit_card_balance_and_contribution_may_be_negative(self, world):
        result = snapshots(world, {"cif": world.c_rm.cif, "period": "2026-10-01", "credit_used": "-120.50",
                                   "contribution": "-3"})
        assert result.created == 1, result.errors
        snap = FinancialSnapshot.objects.get(customer=world.c_rm, period=dt.date(2026, 10, 1))
        assert snap.credit_used == Decimal("-120.50") and snap.contribution == Decimal(-3)

    def test_there_is_one_snapshot_write_path(self):
        assert not hasattr(services, "snapshot_upsert")


# --- PII reveal ---

class TestPiiReveal:
    def test_reveal_returns_full_value_and_logs_the_reason(self, world):
        value = services.pii_reveal(actor=world.rm, customer=world.c_rm, field="id_number", reason="other",
                                    detail="  开户 核对 ")
        assert value == world.c_rm.id_number
        log = PiiAccessLog.objects.get()
        assert log.user == world.rm and log.api_key is None
        assert log.customer_id == world.c_rm.pk and log.customer_cif == world.c_rm.cif
        assert log.field == "id_number" and log.reason == "other: 开户 核对"

    def test_reveal_by_api_key_logs_the_key(self, world):
        key = ApiKeyFactory(scopes=["pii:read"])
        assert services.pii_reveal(actor=ApiClient(key), customer=world.c_rm, field="mobile",
                                   reason="account_servicing") == world.c_rm.mobile
        log = PiiAccessLog.objects.get()
        assert log.api_key == key and log.user is None and log.reason == "account_servicing"

    @pytest.mark.parametrize("field", ["name", "account_no", "password", ""])
    def test_unknown_field_is_a_validation_error_and_not_logged(self, world, field):
        with pytest.raises(ValidationFailed):
            services.pii_reveal(actor=world.rm, customer=world.c_rm, field=field, reason="customer_request")
        assert not PiiAccessLog.objects.exists()

    @pytest.mark.parametrize(("reason", "detail", "field"), [
        ("", "", "reason"), ("开户核对", "", "reason"), ("other", "", "reason_detail"), ("other", " \t", "reason_detail")])
    def test_a_reason_from_the_list_is_required_and_other_needs_words(self, world, reason, detail, field):
        with pytest.raises(ValidationFailed) as exc:
            services.pii_reveal(actor=world.rm, customer=world.c_rm, field="mobile", reason=reason, detail=detail)
        assert list(errors_of(exc)) == [field]
        assert not PiiAccessLog.objects.exists()

    def test_not_permitted_is_not_logged(self, world):
        with pytest.raises(NotPermitted):
            services.pii_reveal(actor=world.co_b1, customer=world.c_rm, field="mobile", reason="customer_request")
        key = ApiKeyFactory(scopes=["customers:read"])
        with pytest.raises(NotPermitted):
            services.pii_reveal(actor=ApiClient(key), customer=world.c_rm, field="mobile", reason="customer_request")
        assert not PiiAccessLog.objects.exists()

    def test_over_the_rate_nothing_is_revealed_or_logged(self, world, settings):
        from core.errors import RateLimited

        settings.CRM_REVEAL_RATE = "3/h"
        for _ in range(3):
            services.pii_reveal(actor=world.rm, customer=world.c_rm, field="mobile", reason="customer_request")
        with pytest.raises(RateLimited) as exc:
            services.pii_reveal(actor=world.rm, customer=world.c_rm, field="mobile", reason="customer_request")
        assert exc.value.status_code == 429 and 0 < exc.value.retry_after <= 3600
        assert PiiAccessLog.objects.count() == 3

    def test_long_detail_is_truncated(self, world):
        services.pii_reveal(actor=world.rm, customer=world.c_rm, field="mobile", reason="other", detail="因" * 300)
        assert len(PiiAccessLog.objects.get().reason) == 200


# --- Interactions and tasks ---

class TestInteractions:
    def data(self, **over):
        data = {"channel": "phone", "occurred_at": NOW - dt.timedelta(hours=1), "outcome": "reached", "notes": "回访"}
        data.update(over)
        return data

    def test_next_follow_up_creates_open_task_for_customers_rm(self, world, frozen):
        # a supervisor records the contact: the task still goes to the customer's RM
        i = services.interaction_log(actor=world.sup_b1, customer=world.c_rm, now=NOW,
                                     data=self.data(next_follow_up=dt.date(2026, 12, 1)))
        assert i.staff == world.sup_b1
        task = FollowUpTask.objects.get(source_interaction=i)
        assert task.assignee == world.rm
        assert task.status == TaskStatus.OPEN
        assert task.due_date == dt.date(2026, 12, 1)
        assert task.customer == world.c_rm
        assert world.c_rm.name in task.title

    def test_follow_up_today_is_allowed(self, world, frozen):
        i = services.interaction_log(actor=world.rm, customer=world.c_rm, now=NOW,
                                     data=self.data(next_follow_up=TODAY))
        assert FollowUpTask.objects.filter(source_interaction=i).exists()

    def test_without_follow_up_no_task(self, world, frozen):
        i = services.interaction_log(actor=world.rm, customer=world.c_rm, now=NOW, data=self.data())
        assert not FollowUpTask.objects.filter(source_interaction=i).exists()

    def test_api_key_interaction_has_no_staff(self, world, frozen):
        key = ApiKeyFactory()
        i = services.interaction_log(actor=ApiClient(key), customer=world.c_rm, now=NOW,
                                     data=self.data(next_follow_up=dt.date(2026, 12, 1)))
        assert i.staff is None
        assert FollowUpTask.objects.get(source_interaction=i).assignee == world.rm

    @pytest.mark.parametrize(("over", "field"), [
        ({"occurred_at": NOW + dt.timedelta(minutes=10)}, "occurred_at"),
        ({"next_follow_up": TODAY - dt.timedelta(days=1)}, "next_follow_up"),
        ({"channel": "pigeon"}, "channel"),
        ({"outcome": ""}, "outcome"),
        ({"notes": "x" * 2001}, "notes"),
    ])
    def test_invalid(self, world, frozen, over, field):
        before = Interaction.objects.count()
        with pytest.raises(ValidationFailed) as exc:
            services.interaction_log(actor=world.rm, customer=world.c_rm, now=NOW, data=self.data(**over))
        assert field in errors_of(exc)
        assert Interaction.objects.count() == before
        assert FollowUpTask.objects.count() == 4

    def test_complaint_officer_cannot_log(self, world, frozen):
        with pytest.raises(NotPermitted):
            services.interaction_log(actor=world.co_b1, customer=world.c_rm, now=NOW, data=self.data())


class TestTasks:
    def test_create_task(self, world):
        task = services.task_create(actor=world.sup_b1, customer=world.c_rm, title="送生日礼品",
                                    due_date=TODAY, today=TODAY)
        assert task.assignee == world.rm and task.status == TaskStatus.OPEN

    def test_api_key_task_for_customer_without_rm(self, world):
        customer = CustomerFactory(rm=None, branch=world.b1)
        task = services.task_create(actor=ApiClient(ApiKeyFactory()), customer=customer, title="核实地址",
                                    due_date=TODAY, today=TODAY)
        assert task.assignee is None

    def test_a_task_for_one_event_is_created_once_and_only_for_a_customer_with_an_rm(self, world):
        first = services.task_schedule_once(key="complaint-satisfaction:7", customer_id=world.c_rm.pk,
                                            title="满意度回访", due_date=TODAY)
        assert first.assignee == world.rm and first.status == TaskStatus.OPEN and first.key == "complaint-satisfaction:7"
        assert services.task_schedule_once(key="complaint-satisfaction:7", customer_id=world.c_rm.pk,
                                           title="满意度回访", due_date=TODAY) is None
        assert FollowUpTask.objects.filter(key="complaint-satisfaction:7").count() == 1
        no_rm = CustomerFactory(rm=None, branch=world.b1)
        assert services.task_schedule_once(key="complaint-satisfaction:8", customer_id=no_rm.pk, title="x",
                                           due_date=TODAY) is None
        assert not FollowUpTask.objects.filter(customer=no_rm).exists()

    def test_the_key_is_unique_in_the_database(self, world):
        from django.db import IntegrityError, transaction

        FollowUpTask.objects.create(customer=world.c_rm, assignee=world.rm, title="x", due_date=TODAY, key="k:1")
        FollowUpTask.objects.create(customer=world.c_rm, assignee=world.rm, title="y", due_date=TODAY)  # no key
        FollowUpTask.objects.create(customer=world.c_rm, assignee=world.rm, title="z", due_date=TODAY)  # many
        with pytest.raises(IntegrityError), transaction.atomic():
            FollowUpTask.objects.create(customer=world.c_rm, assignee=world.rm, title="x", due_date=TODAY, key="k:1")

    def test_create_task_in_the_past_rejected(self, world):
        with pytest.raises(ValidationFailed) as exc:
            services.task_create(actor=world.rm, customer=world.c_rm, title="x", due_date=TODAY - dt.timedelta(1),
                                 today=TODAY)
        assert "due_date" in errors_of(exc)

    def test_create_task_without_title_rejected(self, world):
        with pytest.raises(ValidationFailed) as exc:
            services.task_create(actor=world.rm, customer=world.c_rm, title="", due_date=TODAY, today=TODAY)
        assert "title" in errors_of(exc)

    def test_complete(self, world, frozen):
        task = world.tasks["c_rm"]
        done = services.task_complete(actor=world.rm, task=task, outcome="已联系", now=NOW)
        task.refresh_from_db()
        assert task.status == TaskStatus.DONE == done.status
        assert task.outcome == "已联系"
        assert task.completed_at == NOW

    def test_complete_closed_task_is_conflict(self, world, frozen):
        task = world.tasks["c_rm"]
        services.task_complete(actor=world.rm, task=task, outcome="", now=NOW)
        with pytest.raises(Conflict):
            services.task_complete(actor=world.rm, task=task, outcome="again", now=NOW)
        task.refresh_from_db()
        assert task.outcome == ""

    def test_complete_outcome_too_long(self, world, frozen):
        with pytest.raises(ValidationFailed) as exc:
            services.task_complete(actor=world.rm, task=world.tasks["c_rm"], outcome="x" * 501, now=NOW)
        assert "outcome" in errors_of(exc)
        world.tasks["c_rm"].refresh_from_db()
        assert world.tasks["c_rm"].status == TaskStatus.OPEN

    def test_snooze(self, world):
        task = services.task_snooze(actor=world.rm, task=world.tasks["c_rm"], until=dt.date(2030, 2, 1), today=TODAY)
        assert task.due_date == dt.date(2030, 2, 1)

    @pytest.mark.parametrize("days", [0, -1, -30])
    def test_snooze_to_today_or_past_rejected(self, world, days):
        with pytest.raises(ValidationFailed) as exc:
            services.task_snooze(actor=world.rm, task=world.tasks["c_rm"], until=TODAY + dt.timedelta(days),
                                 today=TODAY)
        assert "due_date" in errors_of(exc)

    def test_snooze_closed_task_is_conflict(self, world, frozen):
        task = world.tasks["c_rm"]
        services.task_complete(actor=world.rm, task=task, outcome="", now=NOW)
        with pytest.raises(Conflict):
            services.task_snooze(actor=world.rm, task=task, until=dt.date(2030, 2, 1), today=TODAY)

    def test_complaint_officer_cannot_complete(self, world, frozen):
        with pytest.raises(NotPermitted):
            services.task_complete(actor=world.co_b1, task=world.tasks["c_rm"], outcome="", now=NOW)
