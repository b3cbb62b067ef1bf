"""customers.services asks org.access where an actor may write: the cases where the four old copies of the
scope disagreed, decided once (a superuser is head office; an inactive member of staff may do nothing)."""

import datetime as dt

import pytest
from django.utils import translation

from core.errors import NotPermitted, ValidationFailed
from customers import services
from customers.constants import CustomerKind, Gender, IdType
from customers.models import Customer
from org.constants import Role

from ..org.builders import HeadOfficeUserFactory, RMFactory
from .builders import make_resident_id

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 22)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def individual(world, **over):
    return {"cif": "C900000001", "kind": CustomerKind.INDIVIDUAL, "name": "黄晓明", "id_type": IdType.RESIDENT_ID,
            "id_number": make_resident_id(dt.date(1985, 6, 15), Gender.MALE), "branch": world.b2,
            "rm": world.rm_b2, **over}


def test_a_superuser_places_customers_anywhere_with_any_rm(world):
    """``createsuperuser`` leaves the default role (RM) and no branch: the superuser is still head office,
    not an RM with an own book (the old service check forced the customer into the superuser's book)."""
    root = HeadOfficeUserFactory(username="root", role=Role.RM, branch=None, is_superuser=True)
    customer = services.customer_create(actor=root, data=individual(world), today=TODAY)
    assert (customer.branch, customer.rm) == (world.b2, world.rm_b2)


@pytest.mark.parametrize("role", [Role.RM, Role.SUPERVISOR, Role.HEAD_OFFICE])
def test_an_inactive_member_of_staff_may_not_write(world, role):
    gone = RMFactory(username="gone", role=role, branch=world.b2, is_active=False)
    with pytest.raises(NotPermitted):
        services.customer_create(actor=gone, data=individual(world, rm=None if role != Role.RM else gone),
                                 today=TODAY)
    with pytest.raises(NotPermitted):
        services.customer_update(actor=gone, customer=world.customers["c_b2"], data={"name": "改名"}, today=TODAY)
    assert not Customer.objects.filter(cif="C900000001").exists()


def test_an_rm_places_in_their_branch_subtree_and_keeps_their_own_book(world):
    with pytest.raises(ValidationFailed) as excinfo:
        services.customer_create(actor=world.rm, data=individual(world, branch=world.b2, rm=world.rm), today=TODAY)
    assert excinfo.value.fields["branch"] == ["You cannot place customers in this branch."]
    customer = services.customer_create(actor=world.rm, data=individual(world, branch=world.b1a, rm=None),
                                        today=TODAY)
    assert (customer.branch, customer.rm) == (world.b1a, world.rm)  # the creating RM's book
    with pytest.raises(ValidationFailed) as excinfo:
        services.customer_update(actor=world.rm, customer=customer, data={"rm": world.other_rm}, today=TODAY)
    assert excinfo.value.fields["rm"] == ["You can only keep customers in your own book."]
