"""Segmentation rules as pure functions (no database): the pyramid, ties, tiny scopes, card tiers, hysteresis."""

import datetime as dt
from collections import Counter
from decimal import Decimal

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


# ---- the ranking shared by chunks, the report, the other rules ------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(-500, 5000), st.integers(0, 5)), min_size=1, max_size=300),
       st.integers(1, 7))
def test_placing_a_part_against_the_whole_ranking_equals_ranking_everything(pairs, parts):
    """What a chunk does: its customers placed against the run's ranking get the tiers of the whole column."""
    c = np.array([p[0] for p in pairs], dtype=float)
    s = np.array([p[1] for p in pairs])
    whole = rules.value_tiers(c, s)
    ranking = rules.Ranking.from_bytes(rules.Ranking(c, s).to_bytes())  # as stored on the run row
    for part in np.array_split(np.arange(len(c)), parts):
        position, size = ranking.place(c[part], s[part])
        assert (rules.tiers_by_place(position, size) == whole[part]).all()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(-10_000, 1_000_000), st.integers(0, 4)), min_size=1, max_size=400,
                unique_by=lambda p: p[0]))
def test_in_every_scope_each_tier_holds_its_share_within_one_customer(pairs):
    c = np.array([p[0] for p in pairs], dtype=float)
    s = np.array([p[1] for p in pairs])
    tiers = rules.value_tiers(c, s)
    for scope in set(s.tolist()):
        counts = Counter(tiers[s == scope].tolist())
        n = int((s == scope).sum())
        for tier, share in enumerate(rules.DEFAULT_PYRAMID):
            assert abs(counts[tier] - n * float(share) / 100) <= 1 + 1e-9


def test_the_report_gives_cut_offs_and_says_when_ties_or_tiny_scopes_shift_the_shares():
    c = np.r_[np.arange(100, 0, -1).astype(float), [5.0, 3.0]]
    c[18:23] = 80.0
    s = np.r_[np.zeros(100), [1, 1]]
    big, tiny = rules.pyramid_report(rules.Ranking(c, s))
    assert big["customers"] == 100 and big["asked"] == [1, 19, 30, 50] and big["assigned"] == [1, 22, 27, 50]
    assert big["cut_offs"] == [100.0, 80.0, 51.0, 1.0] and big["notes"] == ["tie"]
    assert tiny["customers"] == 2 and tiny["notes"] == ["tiny"] and tiny["assigned"] == [0, 0, 1, 1]


def test_top_percent_and_the_contribution_formula():
    assert rules.top_percent(np.array([0, 7, -1]), np.array([1000, 1000, 0])).round(2).tolist()[:2] == [0.1, 0.8]
    scores = rules.contribution_scores((1, 0.5, 0, 2), [100, np.nan], [10, 1], [1e6, 1], [3, 1])
    assert scores[0] == 111.0 and np.isnan(scores[1])


def test_growth_exit_review_and_potential():
    assert rules.growth_percent([110, 100, 5, np.nan], [100, 100, 0, 50]).tolist()[:3] == [10.0, 0.0, np.inf]
    flag, dormant, negative, npl = rules.exit_review(dormant_months=[12, 11, np.nan, 0], negative_months=[0, 3, 0, 2],
                                                     non_performing=[False, False, False, True])
    assert flag.tolist() == [True, True, False, True] and dormant.tolist() == [True, False, False, False]
    assert negative.tolist() == [False, True, False, False] and npl.tolist() == [False, False, False, True]
    assert not rules.exit_review(dormant_months=[0], negative_months=[0], non_performing=[True],
                                 use_non_performing=False)[0][0]
    pot = rules.potential(value_tier=[IMPORTANT, ORDINARY, SMALL, SMALL, SMALL, ORDINARY, U],
                          aum_growth=[50, 12, 0, 50, 50, 50, 50], income_growth=[0, 0, 25, 0, 0, 0, 0],
                          products_held=[3, 1, 1, 0, 1, 1, 1], age=[40, 40, np.nan, 40, 70, 40, 40],
                          exit_flag=[False, False, False, False, False, True, False])
    assert pot.tolist() == [-1, 1, 1, 0, 0, 0, -1]  # key customers n/a; growth; income; no product; too old; exit


def test_lifecycle_stages_in_order_of_precedence():
    stage = rules.lifecycle_stages(
        aum_avg=[np.nan, 0, 0, 1000, 1200, 900, 500_000, 50_000, 50_000],
        earlier_aum=[np.nan, 0, 1000, 1000, 1000, 1000, 500_000, 50_000, 50_000],
        products_held=[0, 0, 0, 1, 1, 1, 2, 1, 1], ever_held=[False, False, True, True, True, True, True, True, True],
        dormant=[False] * 8 + [True])
    assert [rules.LIFECYCLE[k] for k in stage] == [
        "prospect", "prospect", "terminated", "development", "growth", "decline", "maturity", "development",
        "decline"]


def test_policy_problems_name_the_field():
    ok = dict(zip(rules.PYRAMID_FIELDS, rules.DEFAULT_PYRAMID, strict=True)) | \
        dict(zip(rules.THRESHOLD_FIELDS, rules.DEFAULT_CARD_THRESHOLDS[1:], strict=True)) | \
        dict(zip(rules.WEIGHT_FIELDS, rules.DEFAULT_WEIGHTS, strict=True))
    assert rules.policy_problems(ok) == {}
    assert set(rules.policy_problems(ok | {"pct_small": Decimal(49)})) == {"pct_small"}
    assert set(rules.policy_problems(ok | {"platinum_from": Decimal(2_000_000)})) == {"black_gold_from"}
    assert set(rules.policy_problems(ok | {"gold_from": Decimal(0)})) == {"gold_from"}
    assert set(rules.policy_problems(ok | {"weight_contribution": Decimal(0)})) == {"weight_contribution"}


def test_override_problems_and_expiry_limits():
    today = dt.date(2026, 12, 5)
    good = {"reason": "私行客户家族关系", "value_tier": "important", "card_tier": "", "today": today, "max_days": 366}
    assert rules.override_problems(expires_on=today + dt.timedelta(days=30), **good) == {}
    assert set(rules.override_problems(expires_on=today, **good)) == {"expires_on"}
    assert set(rules.override_problems(expires_on=today + dt.timedelta(days=367), **good)) == {"expires_on"}
    assert set(rules.override_problems(expires_on=today + dt.timedelta(days=9), **(good | {"reason": "  "}))) == \
        {"reason"}
    assert set(rules.override_problems(expires_on=today + dt.timedelta(days=9), **(good | {"value_tier": ""}))) == \
        {"value_tier"}


def test_next_contact_due_and_runs_before_a_downgrade():
    today = dt.date(2026, 12, 5)
    assert rules.next_contact_due(dt.date(2026, 11, 1), 30, today) == (dt.date(2026, 12, 1), True)
    assert rules.next_contact_due(dt.date(2026, 11, 20), 30, today) == (dt.date(2026, 12, 20), False)
    assert rules.next_contact_due(None, 30, today) == (today, True)
    assert rules.runs_before_downgrade(2, 3) == 1 and rules.runs_before_downgrade(5, 3) == 0


def test_reasons_read_as_a_person_writes_them():
    lines = rules.reason_lines(value_tier="important", value_label="重要客户", rank_pct=0.8, scope_label="北京分行",
                               card_tier="black_gold", card_label="黑金卡", aum_avg=1_230_000, tier_from=1_000_000,
                               months_below=0, needed=3, codes=["dormant:14"], as_of_label="2026-11")
    assert "0.8" in str(lines[0]) and "北京分行" in str(lines[0]) and "1,230,000" in str(lines[1])
    assert "1,000,000" in str(lines[1]) and "14" in str(lines[2])
    assert len(rules.reason_lines(value_tier="", value_label="", rank_pct=None, scope_label="", card_tier="",
                                  card_label="", aum_avg=None, tier_from=None, months_below=0, needed=3,
                                  codes=["nosnap"], as_of_label="2026-11")) == 1
