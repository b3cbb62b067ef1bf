from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey

from .constants import BranchLevel, CalendarKind, CalendarSource, PiiField, Role

BRANCH_CODE = r"[A-Za-z0-9_-]+"  # a branch code; a path is "/" + codes each followed by "/"


class Branch(models.Model):
    """A node of the organisation tree: head office → branch → outlet.

    ``path`` is the materialised path of codes ("/HO/BJ/BJ01/"), so a subtree is one
    indexed prefix match; it is set by ``services.branch_create`` and never edited. An empty path
    would be a prefix of every branch (its supervisor would see the whole bank): the database refuses
    anything but one or more codes, each followed by "/".
    """

    code = models.CharField(_("code"), max_length=20, unique=True, validators=[RegexValidator(
        rf"^{BRANCH_CODE}\Z", _("Use letters, digits, '-' and '_' only."))])
    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(_("level"), max_length=20, choices=BranchLevel.choices)
    parent = models.ForeignKey("self", verbose_name=_("parent"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="children")
    path = models.CharField(_("path"), max_length=255, unique=True, editable=False)

    class Meta:
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        ordering = ["path"]
        indexes = [models.Index(fields=["path"], name="branch_path_prefix", opclasses=["varchar_pattern_ops"])]
        constraints = [models.CheckConstraint(condition=models.Q(path__regex=rf"^/({BRANCH_CODE}/)+$"),
                                              name="branch_path_well_formed")]

    def __str__(self):
        return self.name


class User(AbstractUser):
    """A member of staff. Integration clients are API keys, never users."""

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.RM)
    branch = models.ForeignKey(Branch, verbose_name=_("branch"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="staff")
    language = models.CharField(_("language"), max_length=10, blank=True, default="",
                                help_text=_("Preferred interface language; empty follows the browser."))

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")

    def __str__(self):
        full = f"{self.last_name}{self.first_name}".strip()
        return full or self.username

    @property
    def display_name(self):
        return str(self)


class ApiKey(AbstractAPIKey):
    """A hashed, expiring, revocable key for an integration client, with scopes and an optional branch."""

    scopes = ArrayField(models.CharField(max_length=40), default=list, blank=True, verbose_name=_("scopes"))
    branch = models.ForeignKey(Branch, verbose_name=_("branch subtree"), null=True, blank=True,
                               on_delete=models.PROTECT,
                               help_text=_("Limit the key to this branch and everything below it."))

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class ApiKeyUse(models.Model):
    """One request made with an API key."""

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="uses", verbose_name=_("key"))
    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    method = models.CharField(_("method"), max_length=10)
    path = models.CharField(_("endpoint"), max_length=255)
    status = models.PositiveSmallIntegerField(_("status"))
    counts = models.JSONField(_("counts"), default=dict, blank=True)

    class Meta:
        verbose_name = _("API key use")
        verbose_name_plural = _("API key uses")
        ordering = ["-at"]


class PiiAccessLog(models.Model):
    """A sensitive value revealed in full or an export: who, whose, which field, when, why."""

    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(User, verbose_name=_("user"), null=True, blank=True, on_delete=models.PROTECT)
    api_key = models.ForeignKey(ApiKey, verbose_name=_("API key"), null=True, blank=True,
                                on_delete=models.PROTECT)
    # org sits below customers, so the subject is recorded by key rather than by foreign key.
    customer_id = models.BigIntegerField(_("customer id"), null=True, blank=True, db_index=True)
    customer_cif = models.CharField(_("customer CIF"), max_length=32, blank=True)
    field = models.CharField(_("field"), max_length=30, choices=PiiField.choices + [("export", _("Export"))])
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("PII access log entry")
        verbose_name_plural = _("PII access log")
        ordering = ["-at"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.user or self.api_key} {self.field}"


class WorkingHours(models.Model):
    """A branch's working hours per weekday; the branches below it inherit them unless they set their own (none set
    up to the root: org.rules.DEFAULT_WEEK). ``week``: seven lists, Monday first, of ["HH:MM", "HH:MM"] intervals
    in order (a lunch break is the gap between two)."""

    branch = models.OneToOneField(Branch, verbose_name=_("branch"), on_delete=models.CASCADE,
                                  related_name="working_hours")
    week = models.JSONField(_("working hours"))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")


class CalendarDay(models.Model):
    """A per-date entry of the working calendar: a day off or a make-up working day (调休). Without a branch it is
    the bank's (the State Council's schedule); a branch's own entry wins for that branch and the ones below it."""

    branch = models.ForeignKey(Branch, verbose_name=_("branch"), null=True, blank=True, on_delete=models.CASCADE,
                               related_name="calendar_days")
    day = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=10, choices=CalendarKind.choices)
    name = models.CharField(_("name"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["day"]
        constraints = [models.UniqueConstraint(fields=["branch", "day"], nulls_distinct=False,
                                               name="calendarday_branch_day")]


class CalendarYear(models.Model):
    """A year whose bank-wide entries are complete (the State Council's schedule is in): a year without a row is
    provisional (org.rules.WorkingCalendar)."""

    year = models.PositiveSmallIntegerField(_("year"), unique=True)
    source = models.CharField(_("source"), max_length=10, choices=CalendarSource.choices)
    loaded_at = models.DateTimeField(_("loaded"), auto_now=True)

    class Meta:
        verbose_name = _("calendar year")
        verbose_name_plural = _("calendar years")
        ordering = ["year"]
