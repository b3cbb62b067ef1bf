"""The edit page never overwrites a change it did not show (issue 9 §9): two people open the same customer,
the first saves, the second's save is refused with a clear message and keeps what they typed."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from customers.models import Customer, CustomerChange

from .test_views import valid_form

# The version is the id of the transaction that wrote the row: each request must be its own transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def loaded_version(page) -> str:
    match = re.search(r'<input type="hidden" name="version" value="(\d+)"', page.content.decode())
    assert match, "the edit page carries the version it was loaded with"
    return match.group(1)


def edit_data(world, customer, version, **changes):
    return valid_form(world, cif=customer.cif, name=customer.name, id_number="", mobile="",
                      gender=customer.gender, birth_date=customer.birth_date.isoformat(), version=version, **changes)


def test_a_stale_save_is_refused_with_a_clear_message_and_keeps_the_input(world):
    customer = world.c_rm
    edit = reverse("customers:edit", args=[customer.pk])
    rm, supervisor = signed_in(world.rm), signed_in(world.sup_b1)
    rm_version = loaded_version(rm.get(edit))
    sup_version = loaded_version(supervisor.get(edit))
    assert rm_version == sup_version

    first = supervisor.post(edit, edit_data(world, customer, sup_version, address="福州市鼓楼区五四路1号"))
    assert first.status_code == 302, first.context["form"].errors

    second = rm.post(edit, edit_data(world, customer, rm_version, address="厦门市思明区湖滨南路9号",
                                     occupation="教师"))
    assert second.status_code == 200
    html = second.content.decode()
    assert "有人修改了该客户" in html, html  # the default language, zh-hans
    assert "厦门市思明区湖滨南路9号" in html and "教师" in html  # what the RM typed is still there
    assert loaded_version(second) == rm_version  # still stale: saving again is refused until reloaded

    customer.refresh_from_db()
    assert customer.address == "福州市鼓楼区五四路1号" and customer.occupation != "教师"
    assert CustomerChange.objects.filter(customer=customer).count() == 1

    # After a reload the RM's change goes through.
    fresh = loaded_version(rm.get(edit))
    assert fresh != rm_version
    third = rm.post(edit, edit_data(world, customer, fresh, address="厦门市思明区湖滨南路9号", occupation="教师"))
    assert third.status_code == 302, third.context["form"].errors
    assert Customer.objects.get(pk=customer.pk).occupation == "教师"


def test_a_form_without_a_version_saves_as_before(world):
    customer = world.c_rm
    response = signed_in(world.rm).post(reverse("customers:edit", args=[customer.pk]),
                                        edit_data(world, customer, "", occupation="教师"))
    assert response.status_code == 302


def test_tags_are_added_and_removed_on_the_360_page_without_touching_the_others(world):
    customer = world.c_rm
    Customer.objects.filter(pk=customer.pk).update(tags=["VIP", "代发"])
    rm = signed_in(world.rm)
    detail = reverse("customers:detail", args=[customer.pk])
    tags = reverse("customers:tags", args=[customer.pk])
    page = rm.get(detail).content.decode()
    assert f'action="{tags}"' in page and 'name="remove" value="VIP"' in page
    assert rm.post(tags, {"add": "新客， 高净值 ,"}).url == detail
    assert rm.post(tags, {"remove": "VIP"}).status_code == 302
    customer.refresh_from_db()
    assert customer.tags == sorted(["代发", "新客", "高净值"])
    assert CustomerChange.objects.filter(customer=customer).count() == 2
    rm.post(tags, {"add": "长" * 31})
    assert "长" * 31 not in Customer.objects.get(pk=customer.pk).tags
    # another RM's customer is not found
    assert signed_in(world.other_rm).post(tags, {"add": "x"}).status_code == 404


def test_a_nul_in_a_tag_on_the_360_page_is_an_error_not_500(world):
    customer = world.c_rm
    rm = signed_in(world.rm)
    tags = reverse("customers:tags", args=[customer.pk])
    assert rm.post(tags, {"add": "a\x00b"}).status_code == 302
    assert rm.post(tags, {"remove": "a\x00b"}).status_code == 302
    assert not any("\x00" in t for t in Customer.objects.get(pk=customer.pk).tags)
