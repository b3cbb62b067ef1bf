"""Test data for segmentation: policies, runs and assignments written directly (the engine's own tests run it)."""

import datetime as dt
from decimal import Decimal

import factory
from django.db.models import Max
from django.utils import timezone

from segmentation.constants import CardTier, PolicyStatus, RunStatus, RunTrigger, ValueTier
from segmentation.models import Assignment, Policy, Run
from tests.customers.builders import World, build_world


class PolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Policy

    version = factory.LazyFunction(lambda: (Policy.objects.aggregate(v=Max("version"))["v"] or 0) + 1)
    status = PolicyStatus.DRAFT


def published_policy(**kwargs) -> Policy:
    return PolicyFactory(status=PolicyStatus.PUBLISHED, published_at=timezone.now(), **kwargs)


class RunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Run

    as_of = dt.date(2026, 11, 1)
    policy = factory.LazyFunction(lambda: Policy.objects.filter(status=PolicyStatus.PUBLISHED).first()
                                  or published_policy())
    status = RunStatus.DONE
    trigger = RunTrigger.SCHEDULE
    finished_at = factory.LazyFunction(timezone.now)


def assign(run: Run, customer, *, value_tier=ValueTier.ORDINARY, card_tier=CardTier.STANDARD, **kwargs) -> Assignment:
    """One customer's row of ``run``, with the customer's current branch and RM."""
    values = {"branch_id": customer.branch_id, "rm_id": customer.rm_id, "score": Decimal("1000.00"),
              "rank_pct": Decimal("30.00"), "aum_avg": customer.aum_latest, "value_tier": value_tier,
              "value_tier_computed": value_tier, "card_tier": card_tier, "card_tier_computed": card_tier,
              "card_tier_held": card_tier, "lifecycle": "development"}
    values.update(kwargs)
    return Assignment.objects.create(run=run, customer=customer, **values)


def build_segmented_world() -> World:
    """``build_world`` plus a published policy and a current run that assigned every customer a tier:
    c_rm important / black gold (one run below: on the downgrade watch), c_rm_outlet small / standard,
    c_other secondary / platinum, c_b2 ordinary / private."""
    w = build_world()
    run = RunFactory(is_current=True)
    c = w.customers
    w.run = run
    w.assignments = {
        "c_rm": assign(run, c["c_rm"], value_tier=ValueTier.IMPORTANT, card_tier=CardTier.BLACK_GOLD,
                       months_below=1, aum_avg=Decimal("900000.00"), rank_pct=Decimal("0.80")),
        "c_rm_outlet": assign(run, c["c_rm_outlet"], value_tier=ValueTier.SMALL, card_tier=CardTier.STANDARD,
                              potential=True),
        "c_other": assign(run, c["c_other"], value_tier=ValueTier.SECONDARY, card_tier=CardTier.PLATINUM),
        "c_b2": assign(run, c["c_b2"], value_tier=ValueTier.ORDINARY, card_tier=CardTier.PRIVATE, exit_review=True,
                       reasons=["dormant:14"]),
    }
    return w
