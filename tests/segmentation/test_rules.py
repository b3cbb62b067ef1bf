"""Segmentation rules as pure functions (no database): the pyramid, ties, tiny scopes, card tiers, hysteresis."""

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentation import rules
from segmentation.constants import CardTier, ValueTier

IMPORTANT, SECONDARY, ORDINARY, SMALL = range(4)
STANDARD, GOLD, PLATINUM, BLACK_GOLD, PRIVATE = range(5)
U = rules.UNCLASSIFIED


def test_tier_numbers_follow_the_constants():
    assert [t.value for t in ValueTier][IMPORTANT] == "important" and len(ValueTier) == 4
    assert [t.value for t in CardTier][PRIVATE] == "private" and len(CardTier) == len(rules.DEFAULT_CARD_THRESHOLDS)


def test_a_scope_of_a_hundred_makes_the_1_19_30_50_pyramid():
    contribution = np.arange(100, 0, -1)  # 100 … 1, all different
    tiers = rules.value_tiers(contribution, np.zeros(100))
    assert Counter(tiers.tolist()) == {IMPORTANT: 1, SECONDARY: 19, ORDINARY: 30, SMALL: 50}
    assert tiers[0] == IMPORTANT and tiers[1] == SECONDARY and tiers[19] == SECONDARY and tiers[20] == ORDINARY
    assert tiers[49] == ORDINARY and tiers[50] == SMALL


def test_each_scope_is_ranked_on_its_own():
    contribution = np.r_[np.arange(100, 0, -1), np.arange(1000, 900, -1)]
    scope = np.r_[np.zeros(100), np.ones(100)]
    tiers = rules.value_tiers(contribution, scope)
    assert Counter(tiers[:100].tolist()) == Counter(tiers[100:].tolist()) == {0: 1, 1: 19, 2: 30, 3: 50}


def test_equal_contribution_at_a_cut_off_gets_the_higher_tier():
    contribution = np.arange(100, 0, -1).astype(float)
    contribution[18:23] = 80.0  # places 19–23 (between 83 and 77) tie across the cut-off after place 20
    tiers = rules.value_tiers(contribution, np.zeros(100))
    assert set(tiers[18:23].tolist()) == {SECONDARY}
    assert Counter(tiers.tolist())[SECONDARY] == 22  # the tie lifts three more than 19 (reported by the run)


def test_everyone_equal_shares_the_first_place():
    assert set(rules.value_tiers(np.full(100, 7.0), np.zeros(100)).tolist()) == {IMPORTANT}
    assert set(rules.value_tiers(np.full(10, 7.0), np.zeros(10)).tolist()) == {SECONDARY}  # round(0.1) = 0 important


def test_tiny_scopes_are_deterministic_and_documented():
    # round(n × cumulative %): n = 1 → bounds 0, 0, 1 (ordinary); 2 → 0, 0, 1; 3 → 0, 1, 2; 4 → 0, 1, 2
    assert rules.value_tiers([5.0], [0]).tolist() == [ORDINARY]
    assert rules.value_tiers([5.0, 1.0], [0, 0]).tolist() == [ORDINARY, SMALL]
    assert rules.value_tiers([5.0, 3.0, 1.0], [0, 0, 0]).tolist() == [SECONDARY, ORDINARY, SMALL]
    assert rules.value_tiers([5.0, 4.0, 3.0, 1.0], [0, 0, 0, 0]).tolist() == [SECONDARY, ORDINARY, SMALL, SMALL]


def test_zero_and_negative_contribution_rank_and_no_figure_is_unclassified():
    tiers = rules.value_tiers([np.nan, -5.0, 0.0, 10.0], [0, 0, 0, 0])
    assert tiers.tolist() == [U, SMALL, ORDINARY, SECONDARY]  # three counted: as the tiny-scope test
    assert rules.value_tiers([np.nan, np.nan], [0, 1]).tolist() == [U, U]


contributions = st.lists(st.integers(-10_000, 1_000_000), min_size=1, max_size=300)


@settings(max_examples=200, deadline=None)
@given(contributions, st.integers(1, 4))
def test_higher_contribution_in_a_scope_never_gets_a_lower_tier(values, n_scopes):
    c = np.array(values, dtype=float)
    s = np.arange(len(c)) % n_scopes
    tiers = rules.value_tiers(c, s)
    for k in range(n_scopes):
        ct, tt = c[s == k], tiers[s == k]
        order = np.argsort(-ct, kind="stable")
        assert (np.diff(tt[order]) >= 0).all()  # tier numbers only grow as contribution falls
        assert all(len(set(tt[ct == v].tolist())) == 1 for v in set(ct.tolist()))  # equal → same tier
    assert (rules.value_tiers(c, s) == tiers).all()  # a re-run gives the same result


@settings(max_examples=200, deadline=None)
@given(st.sets(st.integers(-10_000, 1_000_000), min_size=1, max_size=400))
def test_without_ties_each_tier_holds_its_share_within_one_customer(values):
    c = np.array(sorted(values), dtype=float)
    counts = Counter(rules.value_tiers(c, np.zeros(len(c))).tolist())
    cumulative, expected = 0, 0.0
    for tier, share in enumerate(rules.DEFAULT_PYRAMID):
        cumulative += counts[tier]
        expected += len(c) * float(share) / 100
        assert abs(cumulative - expected) <= 0.5 + 1e-9  # every cut-off within half a customer
        assert abs(counts[tier] - len(c) * float(share) / 100) <= 1 + 1e-9


def test_card_tiers_use_inclusive_lower_bounds():
    aum = [0, 99_999.99, 100_000, 299_999, 300_000, 1_000_000, 9_999_999, 10_000_000, np.nan, -1]
    assert rules.card_tiers(aum).tolist() == [STANDARD, STANDARD, GOLD, GOLD, PLATINUM, BLACK_GOLD, BLACK_GOLD,
                                              PRIVATE, U, STANDARD]
    assert rules.card_tiers([0, 50], thresholds=(10, 100)).tolist() == [0, 0]  # below the lowest bound: lowest


def run_months(aum_by_month, start=U):
    """The tier in force after each monthly run for one customer."""
    current, below, out = np.array([start], np.int8), np.array([0], np.int16), []
    for aum in aum_by_month:
        current, below = rules.card_tiers_with_hysteresis(rules.card_tiers([aum]), current, below)
        out.append(int(current[0]))
    return out


def test_an_upgrade_takes_effect_at_once_a_downgrade_after_three_months_below():
    assert run_months([150_000, 350_000]) == [GOLD, PLATINUM]
    assert run_months([350_000, 200_000, 200_000, 200_000, 200_000]) == [PLATINUM, PLATINUM, PLATINUM, GOLD, GOLD]


def test_a_customer_oscillating_around_a_threshold_keeps_the_tier():
    months = [310_000, 290_000, 310_000, 290_000, 290_000, 310_000, 290_000, 290_000]
    assert run_months(months) == [PLATINUM] * len(months)


def test_private_banking_drops_only_after_six_months_below():
    months = [12_000_000] + [5_000_000] * 6
    assert run_months(months) == [PRIVATE] * 6 + [BLACK_GOLD]


def test_a_downgrade_lands_on_this_runs_tier_and_a_missing_figure_changes_nothing():
    assert run_months([1_500_000, 50_000, 50_000, 50_000]) == [BLACK_GOLD, BLACK_GOLD, BLACK_GOLD, STANDARD]
    assert run_months([350_000, 200_000, np.nan, 200_000, 200_000]) == [PLATINUM] * 4 + [GOLD]


def test_hysteresis_runs_on_whole_columns():
    tier, below = rules.card_tiers_with_hysteresis(np.array([GOLD, STANDARD, U, PRIVATE], np.int8),
                                                   np.array([PLATINUM, GOLD, GOLD, U], np.int8),
                                                   np.array([2, 0, 1, 0], np.int16))
    assert tier.tolist() == [GOLD, GOLD, GOLD, PRIVATE]
    assert below.tolist() == [0, 1, 1, 0]
