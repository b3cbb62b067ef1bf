"""Pure rules of segmentation (DOMAIN.md §3), on whole columns (numpy) so that the engine and the what-if preview
run the same code on the same data: value tiers by contribution rank within a scope, card tiers by AUM with
hysteresis. No ORM, no settings: every limit is a parameter, with the documented default here.

Tiers are small integers here, the position in ``constants.ValueTier`` / ``constants.CardTier`` (value tiers
best first, card tiers lowest first); ``UNCLASSIFIED`` (-1) marks a customer without the figure a rule needs.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

UNCLASSIFIED = -1

# Percent of a scope's customers per value tier, best first: important, secondary, ordinary, small.
DEFAULT_PYRAMID = (Decimal(1), Decimal(19), Decimal(30), Decimal(50))
# Inclusive lower bounds of the card tiers in yuan: standard, gold, platinum, black gold, private banking.
DEFAULT_CARD_THRESHOLDS = (Decimal(0), Decimal(100_000), Decimal(300_000), Decimal(1_000_000), Decimal(10_000_000))
DOWNGRADE_AFTER = 3  # consecutive monthly runs below the tier's threshold before a downgrade
PRIVATE_DOWNGRADE_AFTER = 6  # the same for private banking (the top card tier)
TOP_CARD_TIER = len(DEFAULT_CARD_THRESHOLDS) - 1


def value_tiers(contribution, scope, pyramid=DEFAULT_PYRAMID) -> np.ndarray:
    """Each customer's value tier (0 = important … 3 = small) by its contribution rank within its scope.

    A scope of n customers, ranked by contribution (highest first), gives the first round(n × 1 %) places to
    important, up to round(n × 20 %) to secondary, up to round(n × 50 %) to ordinary, the rest to small
    (cumulative percentages of ``pyramid``; halves round up). Ties: customers with equal contribution share
    the best place any of them holds, so equal contribution never gets a lower tier (a tie at a cut-off
    lifts all of them). A customer without contribution (NaN) is ``UNCLASSIFIED`` and not counted in its
    scope. Zero and negative contributions rank like any number.
    """
    contribution = np.asarray(contribution, dtype=float)
    scope = np.asarray(scope)
    tiers = np.full(len(contribution), UNCLASSIFIED, dtype=np.int8)
    known = ~np.isnan(contribution)
    if not known.any():
        return tiers
    idx = np.flatnonzero(known)
    c, s = contribution[idx], scope[idx]
    order = np.lexsort((-c, s))  # by scope, then highest contribution first
    c, s = c[order], s[order]
    n_all = len(c)
    new_scope = np.r_[True, s[1:] != s[:-1]]
    scope_start = np.maximum.accumulate(np.where(new_scope, np.arange(n_all), 0))
    position = np.arange(n_all) - scope_start
    # ties: the first place of each run of equal contribution within a scope
    new_value = new_scope | np.r_[True, c[1:] != c[:-1]]
    position = position[np.maximum.accumulate(np.where(new_value, np.arange(n_all), 0))]
    starts = np.flatnonzero(new_scope)
    sizes = np.diff(np.r_[starts, n_all])[np.cumsum(new_scope) - 1]
    cumulative = np.cumsum([float(p) for p in pyramid])[:-1] / 100.0
    bounds = np.floor(sizes[:, None] * cumulative[None, :] + 0.5)
    assigned = (position[:, None] >= bounds).sum(axis=1).astype(np.int8)
    tiers[idx[order]] = assigned
    return tiers


def card_tiers(aum, thresholds=DEFAULT_CARD_THRESHOLDS) -> np.ndarray:
    """The card tier each AUM reaches (inclusive lower bounds, lowest tier first); NaN → ``UNCLASSIFIED``.
    An AUM below the lowest bound (a lowest bound above 0, or a negative figure) gets the lowest tier."""
    aum = np.asarray(aum, dtype=float)
    bounds = np.array([float(t) for t in thresholds])
    tiers = np.maximum(np.searchsorted(bounds, aum, side="right") - 1, 0).astype(np.int8)
    tiers[np.isnan(aum)] = UNCLASSIFIED
    return tiers


def card_tiers_with_hysteresis(computed, current, months_below, *, downgrade_after=DOWNGRADE_AFTER,
                               top_downgrade_after=PRIVATE_DOWNGRADE_AFTER, top_tier=TOP_CARD_TIER):
    """One monthly run: (tier in force, consecutive runs below it) from this run's ``computed`` tiers and the
    ``current`` tiers and counters in force before it.

    An upgrade (or a first tier: ``current`` = ``UNCLASSIFIED``) takes effect at once; a run below the tier in
    force counts, and the downgrade to this run's tier comes with the ``downgrade_after``-th consecutive one
    (``top_downgrade_after`` for the top tier); a run at or above the tier in force resets the count, so a
    customer oscillating around a threshold keeps the tier. A customer without a computed tier keeps the one
    in force and its count.
    """
    computed, current = np.asarray(computed, dtype=np.int8), np.asarray(current, dtype=np.int8)
    months_below = np.asarray(months_below, dtype=np.int16)
    known = computed != UNCLASSIFIED
    below = known & (current != UNCLASSIFIED) & (computed < current)
    counted = np.where(below, months_below + 1, np.where(known, 0, months_below)).astype(np.int16)
    needed = np.where(current == top_tier, top_downgrade_after, downgrade_after)
    downgrade = below & (counted >= needed)
    take = known & (~below | downgrade)
    tier = np.where(take, computed, current).astype(np.int8)
    return tier, np.where(downgrade, 0, counted).astype(np.int16)

