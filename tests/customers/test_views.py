"""The pages an RM and a supervisor use all day: list, 360, forms with inline errors, tasks."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from customers.constants import TaskStatus
from customers.models import Customer, CustomerChange, FollowUpTask, Interaction

from .builders import (
    CustomerFactory,
    FinancialSnapshotFactory,
    HoldingFactory,
    InteractionFactory,
    valid_form,
)


@pytest.fixture
def as_rm(world):
    client = Client()
    client.force_login(world.rm)
    return client


def test_create_customer_from_the_form(world, as_rm):
    response = as_rm.post(reverse("customers:create"), valid_form(world))
    customer = Customer.objects.get(cif="CIF9000000001")
    assert response.status_code == 302 and response.url == reverse("customers:detail", args=[customer.pk])
    assert customer.mobile == "13912345678" and customer.tags == ["VIP", "代发"]
    assert customer.rm == world.rm and customer.name_bigrams == ["娜娜", "欧阳", "阳娜"]
    assert CustomerChange.objects.filter(customer=customer, actor=world.rm).exists()


@pytest.mark.parametrize(("field", "value"), [
    ("id_number", "110105199005170001"),  # wrong check character
    ("birth_date", "1990-05-18"),  # contradicts the ID
    ("gender", "M"),  # contradicts the ID
    ("mobile", "1234567"),
    ("risk_level", "C9"),
    ("name", "名" * 101),
])
def test_bad_input_gets_an_inline_error_and_nothing_is_saved(world, as_rm, field, value):
    before = Customer.objects.count()
    response = as_rm.post(reverse("customers:create"), valid_form(world, **{field: value}))
    assert response.status_code == 200
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert f'data-field-error="{field}"' in response.content.decode()
    assert Customer.objects.count() == before


def test_duplicate_cif_is_a_field_error(world, as_rm):
    response = as_rm.post(reverse("customers:create"), valid_form(world, cif=world.c_rm.cif))
    assert response.status_code == 200 and response.context["form"].errors.get("cif")


def test_edit_keeps_masked_values_when_left_empty_and_records_history(world, as_rm):
    customer = world.c_rm
    page = as_rm.get(reverse("customers:edit", args=[customer.pk]))
    assert customer.mobile not in page.content.decode()  # sensitive values never reach the form
    data = valid_form(world, cif=customer.cif, name="张伟明", id_number="", mobile="", gender=customer.gender,
                      birth_date=customer.birth_date.isoformat(), address="福州市鼓楼区五四路1号")
    response = as_rm.post(reverse("customers:edit", args=[customer.pk]), data)
    assert response.status_code == 302, response.context["form"].errors
    customer.refresh_from_db()
    assert customer.id_number == world.customers["c_rm"].id_number
    assert customer.address == "福州市鼓楼区五四路1号"
    change = CustomerChange.objects.filter(customer=customer).latest("at")
    assert change.changes["address"] == ["", "福州市鼓楼区五四路1号"]
    detail = as_rm.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert "福州市鼓楼区五四路1号" in detail


def test_list_search_filters_and_sorting(world, as_rm):
    page = as_rm.get(reverse("customers:list"), {"q": "伟明"})
    assert [c.pk for c in page.context["page"].object_list] == [world.c_rm.pk]
    page = as_rm.get(reverse("customers:list"), {"sort": "-aum"})
    aums = [c.aum_latest for c in page.context["page"].object_list]
    assert aums == sorted(aums)
    page = as_rm.get(reverse("customers:list"), {"tag": "VIP"})
    assert [c.pk for c in page.context["page"].object_list] == [world.c_rm.pk]


def test_list_shows_masked_values_only(world, as_rm):
    body = as_rm.get(reverse("customers:list")).content.decode()
    c = world.c_rm
    assert c.mobile not in body and c.id_number not in body
    assert c.mobile[:3] + "****" + c.mobile[-4:] in body


def test_htmx_search_returns_only_the_table(world, as_rm):
    response = as_rm.get(reverse("customers:list"), {"q": "伟明"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<nav" not in body.split('data-testid="customer-table"')[0]
    assert "张伟明" in body


@pytest.mark.parametrize("rows", [3, 30])
def test_list_query_count_does_not_grow_with_rows(world, rows, django_assert_max_num_queries):
    for i in range(rows):
        CustomerFactory(rm=world.rm, branch=world.b1, name=f"测试{i}")
    client = Client()
    client.force_login(world.sup_b1)
    # session, user, branch, scope, count, page, two filter dropdowns (count + rows each), session save
    with django_assert_max_num_queries(14):
        response = client.get(reverse("customers:list"))
    assert len(response.context["page"].object_list) == min(25, rows + 3)


@pytest.mark.parametrize("extra", [1, 12])
def test_360_query_count_is_constant(world, extra, django_assert_max_num_queries):
    customer = world.c_rm
    for i in range(extra):
        FinancialSnapshotFactory(customer=customer, period=dt.date(2025, 1 + i % 12, 1) if i < 12 else None)
        HoldingFactory(customer=customer)
        InteractionFactory(customer=customer)
    client = Client()
    client.force_login(world.rm)
    # 14 for the page itself, 5 for what other apps add through customers.extensions (segmentation: the tier
    # panel's row and override, the tier history's runs and override events; complaints: the panel's rows)
    with django_assert_max_num_queries(19):
        response = client.get(reverse("customers:detail", args=[customer.pk]))
    assert response.status_code == 200
    assert len(response.context["holdings"]) == extra + 1


def test_log_interaction_with_next_follow_up_creates_a_task(world, as_rm, time_machine):
    time_machine.move_to("2026-11-20 10:00:00+08:00", tick=False)
    customer = world.c_rm
    response = as_rm.post(reverse("customers:interaction-create", args=[customer.pk]), {
        "channel": "visit", "occurred_at": "2026-11-20T09:30", "outcome": "interested",
        "notes": "客户关注理财到期", "next_follow_up": "2026-11-27"})
    assert response.status_code == 302
    interaction = Interaction.objects.filter(customer=customer).latest("id")
    task = FollowUpTask.objects.get(source_interaction=interaction)
    assert task.assignee == world.rm and task.due_date == dt.date(2026, 11, 27)
    detail = as_rm.get(reverse("customers:detail", args=[customer.pk]))
    assert task in detail.context["open_tasks"]


def test_interaction_in_the_future_is_an_inline_error(world, as_rm, time_machine):
    time_machine.move_to("2026-11-20 10:00:00+08:00", tick=False)
    before = Interaction.objects.count()
    response = as_rm.post(reverse("customers:interaction-create", args=[world.c_rm.pk]), {
        "channel": "visit", "occurred_at": "2026-12-20T09:30", "outcome": "reached"})
    assert response.status_code == 400
    assert response.context["interaction_form"].errors.get("occurred_at")
    assert Interaction.objects.count() == before


def test_my_tasks_done_and_snooze(world, as_rm, time_machine):
    time_machine.move_to("2026-11-20 10:00:00+08:00", tick=False)
    task = world.tasks["c_rm"]
    page = as_rm.get(reverse("customers:tasks"))
    assert task in page.context["page"].object_list
    as_rm.post(reverse("customers:task-snooze", args=[task.pk]), {"until": "2030-02-01"})
    task.refresh_from_db()
    assert task.due_date == dt.date(2030, 2, 1)
    response = as_rm.post(reverse("customers:task-snooze", args=[task.pk]), {"until": "2026-11-01"}, follow=True)
    assert [m.level_tag for m in response.context["messages"]][-1] == "error"
    task.refresh_from_db()
    assert task.due_date == dt.date(2030, 2, 1)
    as_rm.post(reverse("customers:task-done", args=[task.pk]), {"outcome": "已回访"})
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE and task.outcome == "已回访"
    done = as_rm.get(reverse("customers:tasks"), {"status": "done"})
    assert task in done.context["page"].object_list


def reveal(client, customer, field, reason="identity_verification", detail=""):
    return client.post(reverse("customers:reveal", args=[customer.pk, field]),
                       {f"{field}-reason": reason, f"{field}-reason_detail": detail}, HTTP_HX_REQUEST="true")


def test_reveal_returns_the_value_and_logs_it_with_the_reason(world, as_rm):
    from org.models import PiiAccessLog

    response = reveal(as_rm, world.c_rm, "mobile", "other", "客户来电核对")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert f'<span class="pii" id="pii-mobile" data-testid="pii-mobile" data-revealed>{world.c_rm.mobile}</span>' in html
    assert 'data-testid="reveal-mobile"' not in html  # the value replaces the button and its form
    log = PiiAccessLog.objects.get()
    assert (log.user, log.customer_id, log.field, log.reason) == (world.rm, world.c_rm.pk, "mobile",
                                                                    "other: 客户来电核对")
    assert reveal(as_rm, world.c_rm, "name").status_code == 404


def test_a_revealed_value_is_text_never_html(world, as_rm):
    """A value stored before ID formats were checked (or by a path that skipped them) comes back escaped."""
    from org.models import PiiAccessLog

    hostile = '<SCRIPT SRC="//x.ex/a"></SCRIPT>'  # (32 characters: the column's limit)
    Customer.objects.filter(pk=world.c_rm.pk).update(id_type="passport", id_number=hostile)
    response = reveal(as_rm, world.c_rm, "id_number")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<SCRIPT" not in html
    assert "&lt;SCRIPT SRC=&quot;//x.ex/a&quot;&gt;&lt;/SCRIPT&gt;" in html
    assert PiiAccessLog.objects.count() == 1


@pytest.mark.parametrize(("reason", "detail", "field"), [
    ("", "", "reason"), ("curiosity", "", "reason"), ("other", "", "reason_detail"), ("other", "   ", "reason_detail"),
    ("account_servicing", "x" * 151, "reason_detail"),
])
def test_a_reveal_needs_a_reason(world, as_rm, reason, detail, field):
    from org.models import PiiAccessLog

    response = reveal(as_rm, world.c_rm, "mobile", reason, detail)
    assert response.status_code == 200  # the form again, with its error (htmx swaps 2xx answers)
    assert response.context["reveal_form"].errors.get(field), response.context["reveal_form"].errors
    html = response.content.decode()
    assert world.c_rm.mobile not in html and 'class="collapse show' in html  # the form stays open, with the error
    assert not PiiAccessLog.objects.exists()


def test_reveals_are_throttled_per_user(world, as_rm, settings):
    from django.test import Client

    from org.models import PiiAccessLog

    settings.CRM_REVEAL_RATE = "2/h"
    assert [reveal(as_rm, world.c_rm, f).status_code for f in ("mobile", "id_number")] == [200, 200]
    response = reveal(as_rm, world.c_rm, "mobile")
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    html = response.content.decode()
    assert world.c_rm.mobile not in html and 'data-testid="reveal-refused-mobile"' in html
    assert "您查看完整信息的次数过多" in html  # the message, in the user's language
    assert PiiAccessLog.objects.count() == 2  # the refused reveal is not logged as revealed
    other = Client()
    other.force_login(world.sup_b1)  # another user has their own allowance
    assert reveal(other, world.c_rm, "mobile").status_code == 200


def test_the_detail_page_offers_a_reason_form_not_the_value(world, as_rm):
    html = as_rm.get(reverse("customers:detail", args=[world.c_rm.pk])).content.decode()
    assert 'data-testid="reveal-form-mobile"' in html and 'name="mobile-reason"' in html
    assert 'hx-swap="outerHTML"' in html and 'hx-swap="innerHTML"' not in html
    assert world.c_rm.mobile not in html and world.c_rm.id_number not in html


def test_the_edit_form_never_sends_the_credit_code_and_empty_keeps_it(world):
    from .builders import CorporateCustomerFactory

    company = CorporateCustomerFactory(rm=world.rm, branch=world.b1)
    client = Client()
    client.force_login(world.rm)
    html = client.get(reverse("customers:edit", args=[company.pk])).content.decode()
    assert company.credit_code not in html
    form = client.get(reverse("customers:edit", args=[company.pk])).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None and k in form.fields}
    data.update({"branch": world.b1.pk, "rm": world.rm.pk, "tags": ",".join(company.tags), "name": "改名有限公司",
                 "credit_code": ""})
    response = client.post(reverse("customers:edit", args=[company.pk]), data)
    assert response.status_code == 302, response.context["form"].errors
    company.refresh_from_db()
    assert company.name == "改名有限公司" and company.credit_code  # the stored code is kept


