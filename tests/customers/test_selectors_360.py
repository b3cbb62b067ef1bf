"""selectors.customer_360: the 360 page's finished read model (labels, masked values, readable history)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from customers import rules, selectors, services
from customers.constants import HoldingStatus, ProductType

from .builders import FinancialSnapshotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def test_sensitive_values_are_masked_and_labels_are_read(world):
    customer = world.c_rm
    view = selectors.customer_360(customer)
    assert view.customer == customer
    assert view.masked == {"id_number": rules.mask_id_number(customer.id_number),
                           "mobile": rules.mask_mobile(customer.mobile), "credit_code": ""}
    holding = world.holdings["c_rm"]
    [row] = view.holdings
    assert row.account == rules.mask_account_no(holding.account_no) != holding.account_no
    assert (row.product_type, row.status) == (ProductType.DEPOSIT.label, HoldingStatus.ACTIVE.label)
    assert [t.pk for t in view.open_tasks] == [world.tasks["c_rm"].pk]
    assert [i.pk for i in view.interactions] == [world.interactions["c_rm"].pk]


def test_the_trend_is_oldest_first_as_text(world):
    customer = world.c_rm
    FinancialSnapshotFactory(customer=customer, period=dt.date(2026, 10, 1), aum=Decimal("510000.50"))
    trend = selectors.customer_360(customer).trend
    assert trend["periods"] == ["2026-09", "2026-10"]
    assert trend["aum"][-1] == "510000.50"


def test_history_rows_are_readable_and_masked(world):
    customer = world.c_rm
    old_mobile = customer.mobile
    services.customer_update(actor=world.sup_b1, customer=customer, today=dt.date(2026, 11, 22),
                             data={"mobile": "13912345678", "rm": world.other_rm, "do_not_contact": True})
    [row] = selectors.customer_360(customer).history
    assert row.who == str(world.sup_b1) and row.source == "Web page" and not row.created
    changes = {str(label): (old, new) for label, old, new in row.changes}
    assert changes["mobile"] == (rules.mask_mobile(old_mobile), "139****5678")
    assert changes["relationship manager"] == (str(world.rm), str(world.other_rm))
    assert changes["do not contact"] == ("no", "yes")
