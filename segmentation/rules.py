"""Pure rules of segmentation (DOMAIN.md §3), on whole columns (numpy) so that the engine and the what-if preview
run the same code on the same data: value tiers by contribution rank within a scope, card tiers by AUM with
hysteresis. No ORM, no settings: every limit is a parameter, with the documented default here.

Tiers are small integers here, the position in ``constants.ValueTier`` / ``constants.CardTier`` (value tiers
best first, card tiers lowest first); ``UNCLASSIFIED`` (-1) marks a customer without the figure a rule needs.
"""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import numpy as np
from django.utils.translation import gettext_lazy as _

UNCLASSIFIED = -1

# Percent of a scope's customers per value tier, best first: important, secondary, ordinary, small.
DEFAULT_PYRAMID = (Decimal(1), Decimal(19), Decimal(30), Decimal(50))
# Inclusive lower bounds of the card tiers in yuan: standard, gold, platinum, black gold, private banking.
DEFAULT_CARD_THRESHOLDS = (Decimal(0), Decimal(100_000), Decimal(300_000), Decimal(1_000_000), Decimal(10_000_000))
DOWNGRADE_AFTER = 3  # consecutive monthly runs below the tier's threshold before a downgrade
PRIVATE_DOWNGRADE_AFTER = 6  # the same for private banking (the top card tier)
TOP_CARD_TIER = len(DEFAULT_CARD_THRESHOLDS) - 1
# The contribution formula: weights of net contribution, fee income, monthly daily-average AUM and loan interest.
# Default: net contribution alone, because core banking's net contribution already nets fee income and loan
# interest against funding and operating cost; a bank that sends gross figures weights those instead.
DEFAULT_WEIGHTS = (Decimal(1), Decimal(0), Decimal(0), Decimal(0))
DEFAULT_TREND_MONTHS = 3  # trends compare the month with the snapshot (trend_months - 1) months earlier
DEFAULT_POTENTIAL_AUM_GROWTH = Decimal(10)  # % growth of the monthly average AUM over the window
DEFAULT_POTENTIAL_INCOME_GROWTH = Decimal(20)  # % growth of net contribution over the window
DEFAULT_POTENTIAL_PRODUCTS = 1  # products held at least
DEFAULT_POTENTIAL_MAX_AGE = 60  # individuals older than this are served for retention, not cultivated
DEFAULT_LIFECYCLE_CHANGE = Decimal(10)  # % AUM change over the window that marks growth or decline
DEFAULT_MATURITY_FROM = Decimal(300_000)  # stable customers with at least this AUM are mature
DEFAULT_EXIT_DORMANT_MONTHS = 12  # no transaction for this long: exit review
DEFAULT_EXIT_NEGATIVE_MONTHS = 3  # negative net contribution in each of the last months: exit review
DEFAULT_CONTACT_DAYS = (30, 30, 91, 182)  # important monthly visit, secondary monthly, ordinary quarterly, small half-yearly


class Ranking:
    """Customers ranked by score within each scope (highest first), kept as one sorted column per scope so that a
    part of the customers (a chunk of the engine) can be placed against all of them. A customer's place is the
    number of customers in its scope with a strictly higher score: equal scores share the best place."""

    def __init__(self, score, scope):
        score, scope = np.asarray(score, dtype=float), np.asarray(scope)
        known = ~np.isnan(score)
        score, scope = score[known], scope[known]
        order = np.lexsort((-score, scope))
        self.scopes, starts = np.unique(scope[order], return_index=True)
        self.offsets = np.r_[starts, len(order)].astype(np.int64)
        self.negated = -score[order]  # ascending within each scope

    def place(self, score, scope):
        """(place from 0, size of the scope) for each (score, scope); -1 and 0 for NaN or an unknown scope."""
        score, scope = np.asarray(score, dtype=float), np.asarray(scope)
        position = np.full(len(score), -1, dtype=np.int64)
        size = np.zeros(len(score), dtype=np.int64)
        if not len(self.scopes):
            return position, size
        which = np.minimum(np.searchsorted(self.scopes, scope), len(self.scopes) - 1)
        found = (self.scopes[which] == scope) & ~np.isnan(score)
        for k in np.unique(which[found]):
            rows = np.flatnonzero(found & (which == k))
            lo, hi = self.offsets[k], self.offsets[k + 1]
            position[rows] = np.searchsorted(self.negated[lo:hi], -score[rows], side="left")
            size[rows] = hi - lo
        return position, size

    def sizes(self):
        return dict(zip(self.scopes.tolist(), np.diff(self.offsets).tolist(), strict=True))

    def scores_of(self, scope):
        k = int(np.searchsorted(self.scopes, scope))
        return -self.negated[self.offsets[k]:self.offsets[k + 1]]

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, scopes=self.scopes, offsets=self.offsets, negated=self.negated)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Ranking:
        saved = np.load(io.BytesIO(bytes(data)), allow_pickle=False)
        ranking = cls.__new__(cls)
        ranking.scopes, ranking.offsets, ranking.negated = saved["scopes"], saved["offsets"], saved["negated"]
        return ranking


def tier_bounds(size, pyramid=DEFAULT_PYRAMID) -> np.ndarray:
    """For scopes of ``size`` customers, the number of places above each cut-off (important, +secondary,
    +ordinary): floor(size × cumulative % + 0.5), i.e. halves round up."""
    cumulative = np.cumsum([float(p) for p in pyramid])[:-1] / 100.0
    return np.floor(np.asarray(size, dtype=float)[..., None] * cumulative + 0.5).astype(np.int64)


def tiers_by_place(position, size, pyramid=DEFAULT_PYRAMID) -> np.ndarray:
    """Value tier from a place in a scope of ``size``: the first bounds[0] places are important, up to bounds[1]
    secondary, up to bounds[2] ordinary, the rest small; place -1 is ``UNCLASSIFIED``."""
    position = np.asarray(position)
    tiers = (position[:, None] >= tier_bounds(size, pyramid)).sum(axis=1).astype(np.int8)
    tiers[position < 0] = UNCLASSIFIED
    return tiers


def value_tiers(contribution, scope, pyramid=DEFAULT_PYRAMID) -> np.ndarray:
    """Each customer's value tier (0 = important … 3 = small) by its contribution rank within its scope.

    A scope of n customers, ranked by contribution (highest first), gives the first round(n × 1 %) places to
    important, up to round(n × 20 %) to secondary, up to round(n × 50 %) to ordinary, the rest to small
    (cumulative percentages of ``pyramid``; halves round up). Ties: customers with equal contribution share
    the best place any of them holds, so equal contribution never gets a lower tier (a tie at a cut-off
    lifts all of them). A customer without contribution (NaN) is ``UNCLASSIFIED`` and not counted in its
    scope. Zero and negative contributions rank like any number.
    """
    position, size = Ranking(contribution, scope).place(contribution, scope)
    return tiers_by_place(position, size, pyramid)


def top_percent(position, size) -> np.ndarray:
    """"Top x %" of a place: (place + 1) / size × 100; NaN when unranked."""
    position, size = np.asarray(position, dtype=float), np.asarray(size, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(position >= 0, (position + 1) / size * 100.0, np.nan)


def pyramid_report(ranking: Ranking, pyramid=DEFAULT_PYRAMID) -> list[dict]:
    """Per scope: its size, the customers per value tier as the percentages ask and as assigned, the actual
    cut-off values (the lowest score in each tier) and notes: ``tie`` when equal scores at a cut-off moved
    customers up, ``tiny`` for a scope of 1–4 customers (whose shares cannot match the percentages)."""
    out = []
    for k, scope in enumerate(ranking.scopes.tolist()):
        scores = -ranking.negated[ranking.offsets[k]:ranking.offsets[k + 1]]
        n = len(scores)
        position = np.searchsorted(-scores, -scores, side="left")
        tiers = tiers_by_place(position, np.full(n, n), pyramid)
        assigned = np.bincount(tiers, minlength=4)[:4].tolist()
        bounds = np.r_[0, tier_bounds(n, pyramid), n]
        asked = np.diff(bounds).tolist()
        cut_offs = [float(scores[tiers == t].min()) if (tiers == t).any() else None for t in range(4)]
        notes = (["tie"] if assigned != asked else []) + (["tiny"] if n <= 4 else [])
        out.append({"scope": scope, "customers": n, "asked": asked, "assigned": assigned,
                    "cut_offs": cut_offs, "notes": notes})
    return out


def contribution_scores(weights, contribution, fee_income, aum_avg, loan_interest) -> np.ndarray:
    """The contribution formula: a weighted sum of the month's figures (NaN where there is no snapshot)."""
    columns = [np.asarray(c, dtype=float) for c in (contribution, fee_income, aum_avg, loan_interest)]
    return sum(float(w) * c for w, c in zip(weights, columns, strict=True))


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



def growth_percent(latest, earlier) -> np.ndarray:
    """Growth from ``earlier`` to ``latest`` in %: NaN without an earlier figure; +inf from 0 (or less) to more."""
    latest, earlier = np.asarray(latest, dtype=float), np.asarray(earlier, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = (latest - earlier) / np.abs(earlier) * 100.0
    growth = np.where((earlier <= 0) & (latest > earlier), np.inf, growth)
    return np.where(earlier == latest, 0.0, growth)


def exit_review(*, dormant_months, negative_months, non_performing, dormant_after=DEFAULT_EXIT_DORMANT_MONTHS,
                negative_after=DEFAULT_EXIT_NEGATIVE_MONTHS, use_non_performing=True):
    """Relationship exit review (客户退出): (flag, dormant, negative, npl) per customer. Dormant: months since the
    last transaction ≥ ``dormant_after`` (NaN: never transacted, known only from a snapshot; not dormant);
    negative: net contribution below 0 in each of the last ``negative_after`` months; npl: a non-performing
    loan (when the policy counts it). Flagged customers are reviewed, never deleted."""
    dormant = np.nan_to_num(np.asarray(dormant_months, dtype=float), nan=-1) >= dormant_after
    negative = np.asarray(negative_months) >= negative_after
    npl = np.asarray(non_performing, dtype=bool) & bool(use_non_performing)
    return dormant | negative | npl, dormant, negative, npl


def potential(*, value_tier, aum_growth, income_growth, products_held, age, exit_flag,
              min_aum_growth=DEFAULT_POTENTIAL_AUM_GROWTH, min_income_growth=DEFAULT_POTENTIAL_INCOME_GROWTH,
              min_products=DEFAULT_POTENTIAL_PRODUCTS, max_age=DEFAULT_POTENTIAL_MAX_AGE):
    """Upgrade potential of ordinary and small customers: 1 with potential (cultivate), 0 without (serve at
    lower cost), -1 not applicable (key customers, unclassified). With potential = a growth signal (AUM or
    contribution growing by the policy's % over the trend window) and at least ``min_products`` products, aged
    at most ``max_age`` (unknown age, e.g. a company, does not count against), not in exit review."""
    value_tier = np.asarray(value_tier)
    growing = (np.nan_to_num(np.asarray(aum_growth, dtype=float), nan=-np.inf) >= float(min_aum_growth)) | \
              (np.nan_to_num(np.asarray(income_growth, dtype=float), nan=-np.inf) >= float(min_income_growth))
    age = np.asarray(age, dtype=float)
    young_enough = np.isnan(age) | (age <= max_age)
    flag = growing & (np.asarray(products_held) >= min_products) & young_enough & ~np.asarray(exit_flag, dtype=bool)
    return np.where(value_tier >= 2, flag.astype(np.int8), np.int8(-1)).astype(np.int8)


LIFECYCLE = ("prospect", "development", "growth", "maturity", "decline", "terminated")  # customers.LifecycleStage


def lifecycle_stages(*, aum_avg, earlier_aum, products_held, ever_held, dormant,
                     change=DEFAULT_LIFECYCLE_CHANGE, maturity_from=DEFAULT_MATURITY_FROM) -> np.ndarray:
    """客户生命周期 as an index into ``LIFECYCLE``, in this order of precedence:
    prospect — no snapshot, or nothing held and never held anything (no earlier AUM);
    terminated — nothing held and no AUM, after having held something;
    decline — AUM fell by ``change`` % or more over the trend window, or the customer is dormant;
    growth — AUM rose by ``change`` % or more;
    maturity — stable with AUM of at least ``maturity_from``;
    development — the rest (stable, below maturity)."""
    aum_avg, earlier = np.asarray(aum_avg, dtype=float), np.asarray(earlier_aum, dtype=float)
    products = np.asarray(products_held)
    nothing = (products <= 0) & (np.nan_to_num(aum_avg) <= 0)
    growth = growth_percent(aum_avg, earlier)
    stage = np.full(len(aum_avg), 1, dtype=np.int8)
    stage[np.nan_to_num(aum_avg) >= float(maturity_from)] = 3
    stage[np.nan_to_num(growth, nan=0) >= float(change)] = 2
    stage[(np.nan_to_num(growth, nan=0) <= -float(change)) | np.asarray(dormant, dtype=bool)] = 4
    stage[nothing & np.asarray(ever_held, dtype=bool)] = 5
    stage[np.isnan(aum_avg) | (nothing & ~np.asarray(ever_held, dtype=bool))] = 0
    return stage


# ---- policy and override checks: {field: message}; messages are constants so forms, API and tests share them.

PYRAMID_SUM = _("The four shares add up to %(total)s %%; they must add up to 100 %%.")
THRESHOLD_ORDER = _("Must be above %(lower)s (the tier below starts there): thresholds rise tier by tier.")
THRESHOLD_ABOVE_ZERO = _("Must be above 0: standard starts at 0.")
WEIGHTS_ZERO = _("At least one weight must be above 0, or every customer scores the same.")
SELF_APPROVAL = _("Another head-office user must approve: you drafted or submitted this version.")
OVERRIDE_REASON = _("Say why the tier is pinned.")
OVERRIDE_PAST = _("The expiry must be after today.")
OVERRIDE_TOO_LONG = _("An override lasts at most %(days)s days: until %(last)s.")
OVERRIDE_NO_TIER = _("Pin a value tier, a card tier or both.")

PYRAMID_FIELDS = ("pct_important", "pct_secondary", "pct_ordinary", "pct_small")
THRESHOLD_FIELDS = ("gold_from", "platinum_from", "black_gold_from", "private_from")
WEIGHT_FIELDS = ("weight_contribution", "weight_fee_income", "weight_aum", "weight_loan_interest")


def policy_problems(values: dict) -> dict[str, str]:
    """Field → message for a policy whose parts do not fit together (single fields are checked by their
    validators: no negative percentages, weights or intervals)."""
    problems = {}
    shares = [values.get(f) for f in PYRAMID_FIELDS]
    if all(v is not None for v in shares) and sum(shares) != 100:
        problems["pct_small"] = PYRAMID_SUM % {"total": f"{sum(shares):g}"}
    lower = 0
    for name in THRESHOLD_FIELDS:
        value = values.get(name)
        if value is None:
            continue
        if value <= lower:
            problems[name] = THRESHOLD_ABOVE_ZERO if lower == 0 else THRESHOLD_ORDER % {"lower": f"{lower:,.2f}"}
        lower = max(lower, value)
    weights = [values.get(f) for f in WEIGHT_FIELDS]
    if all(w is not None for w in weights) and not any(w > 0 for w in weights):
        problems["weight_contribution"] = WEIGHTS_ZERO
    return problems


def override_problems(*, reason: str, expires_on, value_tier: str, card_tier: str, today, max_days: int) -> dict:
    problems = {}
    if not (reason or "").strip():
        problems["reason"] = OVERRIDE_REASON
    if expires_on is not None:
        if expires_on <= today:
            problems["expires_on"] = OVERRIDE_PAST
        elif (expires_on - today).days > max_days:
            last = today + timedelta(days=max_days)
            problems["expires_on"] = OVERRIDE_TOO_LONG % {"days": max_days, "last": last.isoformat()}
    if not value_tier and not card_tier:
        problems["value_tier"] = OVERRIDE_NO_TIER
    return problems


def months_between(earlier, later) -> int:
    """Whole months from ``earlier`` to ``later`` (dates)."""
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    return months - (1 if later.day < earlier.day else 0)


def next_contact_due(last_contact, interval_days, today):
    """(due date, overdue?) for a customer last contacted on ``last_contact`` (a date or None: never, due
    today) under a policy interval of ``interval_days``."""
    due = today if last_contact is None else last_contact + timedelta(days=interval_days)
    return due, due < today or last_contact is None


def runs_before_downgrade(months_below: int, needed: int) -> int:
    """Monthly runs left before a downgrade for a customer ``months_below`` runs below the tier in force."""
    return max(needed - months_below, 0)


def reason_lines(*, value_tier: str, value_label, rank_pct, scope_label, card_tier: str, card_label, aum_avg,
                 tier_from, months_below: int, needed: int, codes, as_of_label: str) -> list[str]:
    """What a person reads beside a customer's tiers, from the figures an assignment keeps: e.g.
    "北京分行贡献度排名前 0.8 %（重要客户）", "AUM 1,230,000 ≥ 1,000,000（黑金卡）"."""
    codes = list(codes or [])
    if "nosnap" in codes:
        return [_("No snapshot for %(month)s: unclassified.") % {"month": as_of_label}]
    lines = []
    if value_tier and rank_pct is not None:
        lines.append(_("Top %(pct)s %% by contribution in %(scope)s (%(tier)s)")
                     % {"pct": f"{rank_pct:.1f}" if rank_pct >= 0.1 else f"{rank_pct:.2f}", "scope": scope_label,
                        "tier": value_label})
    if card_tier and aum_avg is not None and tier_from is not None:
        if aum_avg >= tier_from:
            lines.append(_("AUM %(aum)s ≥ %(bound)s (%(tier)s)")
                         % {"aum": f"{aum_avg:,.0f}", "bound": f"{tier_from:,.0f}", "tier": card_label})
        else:
            lines.append(_("AUM %(aum)s < %(bound)s: %(tier)s kept, %(months)s of %(needed)s runs below before a "
                           "downgrade") % {"aum": f"{aum_avg:,.0f}", "bound": f"{tier_from:,.0f}",
                                           "tier": card_label, "months": months_below, "needed": needed})
    for code in codes:
        name, _sep, figure = code.partition(":")
        if name == "override":
            lines.append(_("Pinned by a supervisor (override)."))
        elif name == "dormant":
            lines.append(_("Exit review: no transaction for %(months)s months.") % {"months": figure})
        elif name == "negative":
            lines.append(_("Exit review: negative net contribution for %(months)s months in a row.")
                         % {"months": figure})
        elif name == "npl":
            lines.append(_("Exit review: holds a non-performing loan."))
        elif name == "aumgrowth":
            lines.append(_("Potential: AUM grew %(pct)s %% over the trend window.") % {"pct": figure})
        elif name == "incomegrowth":
            lines.append(_("Potential: net contribution grew %(pct)s %% over the trend window.") % {"pct": figure})
    return lines
