"""Test data of complaints. The taxonomy and the default SLA policy come from a data migration; a test on a
transactional database may run after another one emptied the tables, so ``seeded()`` makes sure they are there."""

from complaints.constants import ClockMode
from complaints.models import Category, SlaPolicy


def seeded() -> Category:
    """The category "card_fee" (under "card") and the default policy, as the migration leaves them."""
    card, _created = Category.objects.get_or_create(code="card", defaults={"name": "银行卡"})
    fee, _created = Category.objects.get_or_create(code="card_fee", defaults={"name": "收费争议", "parent": card})
    SlaPolicy.objects.get_or_create(is_default=True, defaults={
        "name": "默认服务时限", "active": True, "first_response_seconds": 24 * 3600,
        "first_response_mode": ClockMode.CALENDAR, "resolution_seconds": 70 * 3600,
        "resolution_mode": ClockMode.BUSINESS})
    return fee
