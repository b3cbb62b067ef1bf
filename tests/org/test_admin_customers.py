"""The customer records in the admin: masked (issue 9, item 6) and read-only (item 7).

Fetches every admin page a record has (list, detail, history, delete) and asserts that no full sensitive value
appears, only its masked form.
"""

import pytest
from django.urls import reverse

from customers import rules
from customers.models import CustomerChange, FinancialSnapshot, FollowUpTask, Holding, Interaction
from tests.customers.builders import CorporateCustomerFactory, HoldingFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "Root-Pass-2031"))
    return client


def _pages(model, obj):
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    return [reverse(f"{name}_changelist"), reverse(f"{name}_change", args=[obj.pk]),
            reverse(f"{name}_history", args=[obj.pk])]


def _all_text(client, urls):
    text = []
    for url in urls:
        resp = client.get(url)
        assert resp.status_code == 200, url
        text.append(resp.content.decode())
    return "\n".join(text)


def test_customer_pages_mask_id_number_mobile_and_credit_code(superuser_client, world):
    corporate = CorporateCustomerFactory(rm=world.rm, branch=world.b1)
    individual = world.c_rm
    text = _all_text(superuser_client, _pages(type(individual), individual) + _pages(type(corporate), corporate)
                     + [reverse("admin:customers_customer_changelist") + f"?q={corporate.cif}"])
    for value, masker in ((individual.id_number, rules.mask_id_number), (individual.mobile, rules.mask_mobile),
                          (corporate.credit_code, rules.mask_credit_code)):
        assert value and value not in text
        assert masker(value) in text


def test_holding_pages_mask_the_account_number(superuser_client, world):
    holding = world.holdings["c_rm"]
    text = _all_text(superuser_client, _pages(Holding, holding))
    assert holding.account_no not in text
    assert rules.mask_account_no(holding.account_no) in text


def test_change_records_show_old_and_new_values_masked(superuser_client, world):
    customer = world.c_rm
    corporate = CorporateCustomerFactory(rm=world.rm, branch=world.b1)
    old_id, new_id = customer.id_number, "11010519491231002X"
    changes = {"mobile": ["13800138000", "13912345678"], "id_number": [old_id, new_id],
               "credit_code": [corporate.credit_code, "91350100M000100Y43"], "account_no": ["6222020200001234567", ""],
               "name": ["张伟明", "张伟"]}
    record = CustomerChange.objects.create(customer=customer, actor=world.rm, changes=changes)
    text = _all_text(superuser_client, _pages(CustomerChange, record))
    for field, (old, new) in changes.items():
        for value in (old, new):
            if field in rules.MASKERS and value:
                assert value not in text, (field, value)
                assert rules.MASKERS[field](value) in text
    assert "张伟明 → 张伟" in text  # other fields stay readable, old → new


@pytest.mark.parametrize("model", [FinancialSnapshot, Holding, Interaction, FollowUpTask, CustomerChange])
def test_customer_records_are_read_only_in_the_admin(superuser_client, world, model):
    obj = model.objects.filter(customer=world.c_rm).first() or CustomerChange.objects.create(
        customer=world.c_rm, actor=world.rm, changes={"name": ["a", "b"]})
    before = model.objects.count()
    name = f"admin:customers_{model._meta.model_name}"
    assert superuser_client.get(reverse(f"{name}_add")).status_code == 403
    page = superuser_client.get(reverse(f"{name}_change", args=[obj.pk])).content.decode()
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    assert superuser_client.post(reverse(f"{name}_change", args=[obj.pk]), {}).status_code == 403
    assert superuser_client.post(reverse(f"{name}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
    assert model.objects.count() == before


def test_holding_str_is_masked():
    holding = HoldingFactory.build(account_no="6222020200001234567", product_name="薪金宝")
    assert str(holding) == f"薪金宝 {rules.mask_account_no('6222020200001234567')}"
