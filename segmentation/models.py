"""Segmentation (DOMAIN.md §3): the policy (versioned, four eyes), the runs of the engine, each customer's
assignment per run (the history; the current run's rows are the assignments in force) and supervisors' overrides.
"""

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from customers.constants import Channel, LifecycleStage

from . import rules
from .constants import CardTier, PolicyStatus, RankingScope, RunStatus, RunTrigger, ValueTier


def weight(verbose_name, default):
    return models.DecimalField(verbose_name, max_digits=6, decimal_places=3, default=Decimal(default),
                               validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))])


def percent(verbose_name, default):
    return models.DecimalField(verbose_name, max_digits=5, decimal_places=2, default=Decimal(default),
                               validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))])


def yuan(verbose_name, default):
    return models.DecimalField(verbose_name, max_digits=18, decimal_places=2, default=Decimal(default),
                               validators=[MinValueValidator(Decimal(0))])


def count(verbose_name, default, *, minimum=1, maximum=120):
    return models.PositiveSmallIntegerField(verbose_name, default=default,
                                            validators=[MinValueValidator(minimum), MaxValueValidator(maximum)])


def channels(verbose_name, default):
    return ArrayField(models.CharField(max_length=10, choices=Channel.choices), default=default,
                      verbose_name=verbose_name, blank=True)


# Default channels per value tier (callables: a migration needs importable defaults).
def important_channels():
    return ["visit", "meeting", "phone", "wechat"]


def secondary_channels():
    return ["phone", "meeting", "wechat"]


def ordinary_channels():
    return ["phone", "wechat", "sms"]


def small_channels():
    return ["sms", "wechat", "email"]


class Policy(models.Model):
    """One version of the segmentation policy. Head office edits a draft, submits it, and a second head-office
    user approves it (four eyes, ``SEGMENTATION_FOUR_EYES``); the published version is the one runs use, and a
    newer publication retires it. Defaults are the documented ones (rules.py, DOMAIN.md §3)."""

    version = models.PositiveIntegerField(_("version"), unique=True, editable=False)
    status = models.CharField(_("status"), max_length=10, choices=PolicyStatus.choices, default=PolicyStatus.DRAFT)
    note = models.CharField(_("what changed"), max_length=200, blank=True)

    # Contribution formula: a weighted sum of the month's snapshot figures (rules.contribution_scores).
    weight_contribution = weight(_("weight of net contribution"), rules.DEFAULT_WEIGHTS[0])
    weight_fee_income = weight(_("weight of fee income"), rules.DEFAULT_WEIGHTS[1])
    weight_aum = weight(_("weight of monthly daily-average AUM"), rules.DEFAULT_WEIGHTS[2])
    weight_loan_interest = weight(_("weight of loan interest"), rules.DEFAULT_WEIGHTS[3])

    # The pyramid: percent of a scope's customers per value tier, best first.
    pct_important = percent(_("important customers (%)"), rules.DEFAULT_PYRAMID[0])
    pct_secondary = percent(_("secondary customers (%)"), rules.DEFAULT_PYRAMID[1])
    pct_ordinary = percent(_("ordinary customers (%)"), rules.DEFAULT_PYRAMID[2])
    pct_small = percent(_("small customers (%)"), rules.DEFAULT_PYRAMID[3])
    ranking_scope = models.CharField(_("ranking scope"), max_length=10, choices=RankingScope.choices,
                                     default=RankingScope.BRANCH)

    # Card tiers by monthly daily-average AUM: inclusive lower bounds in yuan (standard starts at 0).
    gold_from = yuan(_("gold from (yuan)"), rules.DEFAULT_CARD_THRESHOLDS[1])
    platinum_from = yuan(_("platinum from (yuan)"), rules.DEFAULT_CARD_THRESHOLDS[2])
    black_gold_from = yuan(_("black gold from (yuan)"), rules.DEFAULT_CARD_THRESHOLDS[3])
    private_from = yuan(_("private banking from (yuan)"), rules.DEFAULT_CARD_THRESHOLDS[4])
    downgrade_after = count(_("downgrade after (monthly runs below)"), rules.DOWNGRADE_AFTER, maximum=24)
    private_downgrade_after = count(_("private banking: downgrade after (monthly runs below)"),
                                    rules.PRIVATE_DOWNGRADE_AFTER, maximum=24)

    # Upgrade potential (ordinary and small customers) and lifecycle trends, over a window of monthly snapshots.
    trend_months = count(_("trend window (months)"), rules.DEFAULT_TREND_MONTHS, minimum=2, maximum=12)
    potential_aum_growth = percent(_("potential: AUM growth of at least (%)"), rules.DEFAULT_POTENTIAL_AUM_GROWTH)
    potential_income_growth = percent(_("potential: contribution growth of at least (%)"),
                                      rules.DEFAULT_POTENTIAL_INCOME_GROWTH)
    potential_min_products = count(_("potential: products held at least"), rules.DEFAULT_POTENTIAL_PRODUCTS,
                                   minimum=0, maximum=50)
    potential_max_age = count(_("potential: age at most"), rules.DEFAULT_POTENTIAL_MAX_AGE, minimum=18, maximum=120)
    lifecycle_change = percent(_("lifecycle: AUM change that marks growth or decline (%)"),
                               rules.DEFAULT_LIFECYCLE_CHANGE)
    maturity_from = yuan(_("lifecycle: maturity from AUM (yuan)"), rules.DEFAULT_MATURITY_FROM)

    # Relationship exit review (客户退出): flagged, never deleted.
    exit_dormant_months = count(_("exit review: no transaction for (months)"), rules.DEFAULT_EXIT_DORMANT_MONTHS,
                                maximum=120)
    exit_negative_months = count(_("exit review: negative contribution for (months)"),
                                 rules.DEFAULT_EXIT_NEGATIVE_MONTHS, maximum=12)
    exit_non_performing = models.BooleanField(_("exit review: a non-performing loan"), default=True)

    # Service policy per value tier: contact interval (days), a dedicated RM, channels.
    important_contact_days = count(_("important: contact every (days)"), rules.DEFAULT_CONTACT_DAYS[0], maximum=366)
    secondary_contact_days = count(_("secondary: contact every (days)"), rules.DEFAULT_CONTACT_DAYS[1], maximum=366)
    ordinary_contact_days = count(_("ordinary: contact every (days)"), rules.DEFAULT_CONTACT_DAYS[2], maximum=366)
    small_contact_days = count(_("small: contact every (days)"), rules.DEFAULT_CONTACT_DAYS[3], maximum=366)
    important_dedicated_rm = models.BooleanField(_("important: dedicated RM"), default=True)
    secondary_dedicated_rm = models.BooleanField(_("secondary: dedicated RM"), default=True)
    ordinary_dedicated_rm = models.BooleanField(_("ordinary: dedicated RM"), default=False)
    small_dedicated_rm = models.BooleanField(_("small: dedicated RM"), default=False)
    important_channels = channels(_("important: channels"), important_channels)
    secondary_channels = channels(_("secondary: channels"), secondary_channels)
    ordinary_channels = channels(_("ordinary: channels"), ordinary_channels)
    small_channels = channels(_("small: channels"), small_channels)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("drafted by"), on_delete=models.PROTECT,
                                   related_name="+", null=True, blank=True)
    created_at = models.DateTimeField(_("drafted"), auto_now_add=True)
    updated_at = models.DateTimeField(_("changed"), auto_now=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("submitted by"), null=True,
                                     blank=True, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("approved by"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    published_at = models.DateTimeField(_("published"), null=True, blank=True)

    class Meta:
        verbose_name = _("segmentation policy")
        verbose_name_plural = _("segmentation policies")
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status=PolicyStatus.PUBLISHED),
                                    name="segpolicy_one_published"),
            models.CheckConstraint(condition=Q(pct_important__gte=0) & Q(pct_secondary__gte=0)
                                   & Q(pct_ordinary__gte=0) & Q(pct_small__gte=0),
                                   name="segpolicy_percent_not_negative"),
            models.CheckConstraint(condition=Q(gold_from__lt=models.F("platinum_from"))
                                   & Q(platinum_from__lt=models.F("black_gold_from"))
                                   & Q(black_gold_from__lt=models.F("private_from")) & Q(gold_from__gt=0),
                                   name="segpolicy_thresholds_ordered"),
        ]

    def __str__(self):
        return f"v{self.version} ({self.get_status_display()})"

    @property
    def weights(self):
        return (self.weight_contribution, self.weight_fee_income, self.weight_aum, self.weight_loan_interest)

    @property
    def pyramid(self):
        return (self.pct_important, self.pct_secondary, self.pct_ordinary, self.pct_small)

    @property
    def card_thresholds(self):
        return (Decimal(0), self.gold_from, self.platinum_from, self.black_gold_from, self.private_from)

    @property
    def contact_days(self):
        return (self.important_contact_days, self.secondary_contact_days, self.ordinary_contact_days,
                self.small_contact_days)


class Run(models.Model):
    """One run of the engine for an as-of month under one policy version. Chunks of customers are classified by
    several workers at once; the run becomes the current one only when every chunk is written, so a failed or
    interrupted run leaves the previous assignments in force."""

    as_of = models.DateField(_("as of (month)"), help_text=_("The month of the snapshots used: its first day."))
    policy = models.ForeignKey(Policy, verbose_name=_("policy"), on_delete=models.PROTECT, related_name="runs")
    status = models.CharField(_("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    trigger = models.CharField(_("started by"), max_length=10, choices=RunTrigger.choices)
    triggered_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("started by user"), null=True,
                                     blank=True, on_delete=models.PROTECT, related_name="+")
    is_current = models.BooleanField(_("in force"), default=False)
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    customers_total = models.PositiveIntegerField(_("customers"), default=0)
    customers_done = models.PositiveIntegerField(_("customers classified"), default=0)
    chunks_total = models.PositiveIntegerField(default=0, editable=False)
    report = models.JSONField(_("report"), default=dict, blank=True)
    # The run's ranking (rules.Ranking.to_bytes: every scope's scores, sorted), written before the chunks start so
    # each chunk places its customers against all of them; cleared when the run ends.
    ranking = models.BinaryField(null=True, blank=True, editable=False)
    chunks_finished = ArrayField(models.PositiveIntegerField(), default=list, blank=True, editable=False)
    error = models.TextField(_("error"), blank=True)
    # The supervisor view's figures are stored when the run finishes (Figures, BranchScores): figures_ready. Contact
    # compliance is counted for the run in force by a task (services.compliance_refresh) for one day at a time.
    figures_ready = models.BooleanField(default=False, editable=False)
    compliance_on = models.DateField(null=True, blank=True, editable=False)
    compliance_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("segmentation run")
        verbose_name_plural = _("segmentation runs")
        ordering = ["-started_at", "-id"]
        constraints = [
            # One run at a time: a second trigger while one runs is refused.
            models.UniqueConstraint(fields=["status"], condition=Q(status=RunStatus.RUNNING), name="segrun_one_running"),
            # Idempotent: one completed run per as-of month and policy version.
            models.UniqueConstraint(fields=["as_of", "policy"], condition=Q(status=RunStatus.DONE),
                                    name="segrun_done_once"),
            models.UniqueConstraint(fields=["is_current"], condition=Q(is_current=True), name="segrun_one_current"),
        ]

    def __str__(self):
        return f"{self.as_of:%Y-%m} v{self.policy.version if self.policy_id else '?'} ({self.get_status_display()})"

    @property
    def percent(self) -> int:
        return min(100, self.customers_done * 100 // self.customers_total) if self.customers_total else 0


class Assignment(models.Model):
    """A customer's tiers from one run (one row per customer per run; the rows of the current run are the
    assignments in force). ``value_tier`` / ``card_tier`` are in force (an override wins); ``*_computed`` are the
    engine's own result, ``card_tier_held`` the card tier with hysteresis that the override stands in front of.
    Empty tiers mean unclassified; ``reasons`` is rendered for people by ``rules.reason_lines``."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="assignments", db_index=False)
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="assignments",
                                 db_index=False)
    branch = models.ForeignKey("org.Branch", on_delete=models.PROTECT, related_name="+", db_index=False)
    rm = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="+", db_index=False)
    score = models.DecimalField(_("contribution score"), max_digits=20, decimal_places=2, null=True, blank=True)
    rank_pct = models.DecimalField(_("rank in scope (top %)"), max_digits=6, decimal_places=2, null=True, blank=True)
    aum_avg = models.DecimalField(_("AUM (monthly daily average)"), max_digits=18, decimal_places=2, null=True,
                                  blank=True)
    value_tier = models.CharField(_("value tier"), max_length=10, choices=ValueTier.choices, blank=True)
    value_tier_computed = models.CharField(max_length=10, choices=ValueTier.choices, blank=True)
    previous_value_tier = models.CharField(_("previous value tier"), max_length=10, choices=ValueTier.choices,
                                           blank=True)
    card_tier = models.CharField(_("card tier"), max_length=10, choices=CardTier.choices, blank=True)
    card_tier_computed = models.CharField(max_length=10, choices=CardTier.choices, blank=True)
    card_tier_held = models.CharField(max_length=10, choices=CardTier.choices, blank=True)
    previous_card_tier = models.CharField(_("previous card tier"), max_length=10, choices=CardTier.choices,
                                          blank=True)
    months_below = models.PositiveSmallIntegerField(_("consecutive runs below the card tier"), default=0)
    potential = models.BooleanField(_("upgrade potential"), null=True, blank=True)
    lifecycle = models.CharField(_("lifecycle stage"), max_length=12, choices=LifecycleStage.choices, blank=True)
    exit_review = models.BooleanField(_("exit review"), default=False)
    overridden = models.BooleanField(_("overridden"), default=False)
    # Short codes beside the columns above, rendered for people by rules.reason_lines: "nosnap", "held:2",
    # "dormant:14", "negative:3", "npl", "aumgrowth:12.5", "incomegrowth:30", "override".
    reasons = ArrayField(models.CharField(max_length=24), default=list, blank=True, verbose_name=_("reasons"))

    class Meta:
        verbose_name = _("tier assignment")
        verbose_name_plural = _("tier assignments")
        constraints = [models.UniqueConstraint(fields=["run", "customer"], name="segassign_run_customer")]
        indexes = [models.Index(fields=["customer", "run"], name="segassign_customer"),
                   models.Index(fields=["run", "branch", "value_tier"], name="segassign_run_branch")]


class Figures(models.Model):
    """A finished run's rows summed per branch, RM and value tier (written once, with the run's last chunk): the
    pyramid, the branch comparison and the customers per RM of the supervisor view read these few thousand rows
    instead of the run's million. ``contacted``: of those customers, how many had their contact in time on the run's
    ``compliance_on`` day (services.compliance_refresh)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+", db_index=False)
    branch = models.ForeignKey("org.Branch", on_delete=models.PROTECT, related_name="+", db_index=False)
    rm = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="+", db_index=False)
    value_tier = models.CharField(max_length=10, choices=ValueTier.choices, blank=True)
    customers = models.PositiveIntegerField()
    aum = models.DecimalField(max_digits=22, decimal_places=2)
    contribution = models.DecimalField(max_digits=24, decimal_places=2)
    contacted = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["run", "branch"], name="segfigures_run_branch")]


class BranchScores(models.Model):
    """A finished run's contribution scores of one branch, sorted best first (int64 fen, little-endian): the
    Pareto curve of any subtree is these arrays merged, without ranking the run's rows again."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+", db_index=False)
    branch = models.ForeignKey("org.Branch", on_delete=models.PROTECT, related_name="+", db_index=False)
    scores = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "branch"], name="segscores_run_branch")]


class Override(models.Model):
    """A supervisor pins a customer's value or card tier with a reason until an expiry date."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="tier_overrides",
                                 db_index=False)
    value_tier = models.CharField(_("value tier"), max_length=10, choices=ValueTier.choices, blank=True)
    card_tier = models.CharField(_("card tier"), max_length=10, choices=CardTier.choices, blank=True)
    reason = models.CharField(_("reason"), max_length=300)
    expires_on = models.DateField(_("expires on"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("set by"), on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(_("set"), auto_now_add=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("ended by"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("tier override")
        verbose_name_plural = _("tier overrides")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["customer"], condition=Q(ended_at__isnull=True),
                                    name="segoverride_one_active"),
            models.CheckConstraint(condition=~Q(value_tier="", card_tier=""), name="segoverride_pins_a_tier"),
        ]
