from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import MaxLengthValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Right
from django.utils.translation import gettext_lazy as _

from . import rules
from .constants import (
    ChangeSource,
    Channel,
    CompanySize,
    CustomerKind,
    Gender,
    HoldingStatus,
    IdType,
    IncomeBand,
    InteractionOutcome,
    LifecycleStage,
    ProductRisk,
    ProductType,
    RiskLevel,
    TaskStatus,
)

ZERO = Decimal(0)


def money(verbose_name, *, allow_negative=False, **kwargs):
    validators = [] if allow_negative else [MinValueValidator(ZERO, message=_("This amount cannot be negative."))]
    return models.DecimalField(verbose_name, max_digits=18, decimal_places=2, default=ZERO,
                               validators=validators, **kwargs)


class Customer(models.Model):
    # Unique through Meta.constraints, not unique=True: the same unique index, without the second
    # (varchar_pattern_ops) index Django adds for unique=True, which every insert would also maintain.
    cif = models.CharField(_("CIF"), max_length=32,
                           help_text=_("Core-banking customer number: the external key."))
    kind = models.CharField(_("customer type"), max_length=12, choices=CustomerKind.choices,
                            default=CustomerKind.INDIVIDUAL)
    name = models.CharField(_("name"), max_length=100)
    name_bigrams = ArrayField(models.CharField(max_length=2), default=list, blank=True, editable=False)

    # Individual
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    id_type = models.CharField(_("ID type"), max_length=20, choices=IdType.choices, blank=True)
    id_number = models.CharField(_("ID number"), max_length=32, blank=True)
    occupation = models.CharField(_("occupation"), max_length=60, blank=True)
    income_band = models.CharField(_("income band"), max_length=12, choices=IncomeBand.choices, blank=True)

    # Corporate
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    industry = models.CharField(_("industry"), max_length=60, blank=True)
    company_size = models.CharField(_("company size"), max_length=10, choices=CompanySize.choices, blank=True)
    legal_representative = models.CharField(_("legal representative"), max_length=60, blank=True)
    contact_person = models.CharField(_("contact person"), max_length=60, blank=True)

    # Contact and consent
    mobile = models.CharField(_("mobile"), max_length=11, blank=True)
    email = models.EmailField(_("email"), blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    consent_sms = models.BooleanField(_("consents to marketing SMS"), default=False)
    consent_email = models.BooleanField(_("consents to marketing email"), default=False)
    consent_phone = models.BooleanField(_("consents to marketing calls"), default=False)
    consent_app = models.BooleanField(_("consents to in-app marketing"), default=False)
    lunar_birthday = models.BooleanField(_("celebrates the lunar birthday"), default=False,
                                         help_text=_("Greet on the lunar (农历) date of birth instead of the Gregorian."))
    do_not_contact = models.BooleanField(_("do not contact"), default=False,
                                         help_text=_("No campaign messages at all; service messages still go out."))

    # Suitability and relationship
    risk_level = models.CharField(_("risk tolerance"), max_length=2, choices=RiskLevel.choices, blank=True)
    risk_assessed_on = models.DateField(_("risk assessment date"), null=True, blank=True)
    lifecycle_stage = models.CharField(_("lifecycle stage"), max_length=12, choices=LifecycleStage.choices,
                                       default=LifecycleStage.DEVELOPMENT)
    # No single-column indexes on branch and rm: cust_branch_aum / cust_rm_aum start with them and serve
    # the same lookups (every index costs each insert and update; see bench/README.md).
    branch = models.ForeignKey("org.Branch", verbose_name=_("home branch"), on_delete=models.PROTECT,
                               related_name="customers", db_index=False)
    rm = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("relationship manager"), null=True,
                           blank=True, on_delete=models.PROTECT, related_name="customers", db_index=False)
    tags = ArrayField(models.CharField(max_length=30), default=list, blank=True, verbose_name=_("tags"),
                      validators=[MaxLengthValidator(20)])
    notes = models.TextField(_("notes"), blank=True, validators=[MaxLengthValidator(2000)])

    # Latest financial figures, kept by the snapshot service for sorting and lists.
    aum_latest = money(_("AUM (latest)"))
    last_txn_date = models.DateField(_("last transaction date"), null=True, blank=True)

    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # Id of the transaction that last wrote the row, stamped by a database trigger on every insert and
    # update whatever the write path (ORM, bulk SQL, admin): the changes feed pages by it.
    change_txid = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        constraints = [models.UniqueConstraint(fields=["cif"], name="customers_customer_cif_key")]
        indexes = [
            models.Index(fields=["id_number"], name="cust_id_number", condition=~Q(id_number="")),
            models.Index(fields=["mobile"], name="cust_mobile", condition=~Q(mobile="")),
            # 手机尾号: search by the last four digits of a mobile (selectors.customer_search). Not partial: the
            # planner ignores the statistics of a partial expression index and guessed 0.5 % of the rows.
            models.Index(Right("mobile", 4), name="cust_mobile_suffix"),
            models.Index(fields=["credit_code"], name="cust_credit_code", condition=~Q(credit_code="")),
            models.Index(fields=["name"], name="cust_name_prefix", opclasses=["varchar_pattern_ops"]),
            GinIndex(fields=["name_bigrams"], name="cust_name_bigrams"),
            GinIndex(fields=["tags"], name="cust_tags"),
            models.Index(fields=["rm", "-aum_latest", "id"], name="cust_rm_aum"),
            models.Index(fields=["branch", "-aum_latest", "id"], name="cust_branch_aum"),
            models.Index(fields=["-aum_latest", "id"], name="cust_aum"),
            models.Index(fields=["updated_at", "id"], name="cust_updated"),
            models.Index(fields=["change_txid", "id"], name="cust_change_feed"),
        ]

    def __str__(self):
        return f"{self.name} ({self.cif})"

    @property
    def is_individual(self):
        return self.kind == CustomerKind.INDIVIDUAL


class CustomerChange(models.Model):
    """Profile history: who changed what, when, old → new."""

    # Indexes: custchange_customer serves the customer lookups; actor and API key are each indexed only
    # where set (every history row has one of the two), so a row costs three index entries, not six.
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="changes", db_index=False)
    at = models.DateTimeField(_("time"), auto_now_add=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("changed by"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+", db_index=False)
    api_key = models.ForeignKey("org.ApiKey", verbose_name=_("API key"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+", db_index=False)
    source = models.CharField(_("source"), max_length=20, choices=ChangeSource.choices, default=ChangeSource.WEB)
    created = models.BooleanField(_("customer created"), default=False,
                                  help_text=_("The first entry: the values the customer was created with."))
    changes = models.JSONField(_("changes"), default=dict)

    class Meta:
        verbose_name = _("profile change")
        verbose_name_plural = _("profile changes")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["customer", "-at"], name="custchange_customer"),
                   models.Index(fields=["actor"], name="custchange_actor", condition=Q(actor__isnull=False)),
                   models.Index(fields=["api_key"], name="custchange_api_key", condition=Q(api_key__isnull=False))]


class FinancialSnapshot(models.Model):
    """The financial picture for one month, pushed by core banking. ``period`` is the month's first day."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="snapshots",
                                 db_index=False)  # the composite index below starts with it
    period = models.DateField(_("period"))
    aum = money(_("AUM (month end)"))
    aum_avg = money(_("AUM (monthly daily average)"))
    deposits = money(_("deposits"))
    wealth = money(_("wealth-management balance"))
    funds = money(_("fund balance"))
    loans = money(_("loan balance"))
    credit_limit = money(_("credit-card limit"))
    credit_used = money(_("credit-card balance"), allow_negative=True)
    txn_count = models.PositiveIntegerField(_("transactions"), default=0)
    last_txn_date = models.DateField(_("last transaction date"), null=True, blank=True)
    fee_income = money(_("fee income"), allow_negative=True)
    contribution = money(_("net contribution"), allow_negative=True)
    loan_interest = money(_("loan interest income"), allow_negative=True)
    products_held = models.PositiveSmallIntegerField(_("products held"), default=0)

    class Meta:
        verbose_name = _("financial snapshot")
        verbose_name_plural = _("financial snapshots")
        ordering = ["customer_id", "-period"]
        constraints = [models.UniqueConstraint(fields=["customer", "period"], name="snapshot_customer_period")]

    def __str__(self):
        return f"{self.customer_id} {self.period:%Y-%m}"


class Holding(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="holdings",
                                 db_index=False)  # the composite index below starts with it
    account_no = models.CharField(_("account number"), max_length=32)
    product_code = models.CharField(_("product code"), max_length=32)
    product_name = models.CharField(_("product name"), max_length=100)
    product_type = models.CharField(_("product type"), max_length=20, choices=ProductType.choices)
    product_risk = models.CharField(_("product risk"), max_length=2, choices=ProductRisk.choices, blank=True)
    balance = money(_("balance"), allow_negative=True)
    opened_on = models.DateField(_("opened on"), null=True, blank=True)
    matures_on = models.DateField(_("matures on"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=HoldingStatus.choices,
                              default=HoldingStatus.ACTIVE)

    class Meta:
        verbose_name = _("product holding")
        verbose_name_plural = _("product holdings")
        ordering = ["customer_id", "product_type", "id"]
        constraints = [models.UniqueConstraint(fields=["customer", "account_no"], name="holding_customer_account")]
        # The few non-performing holdings, for segmentation's exit review (a tiny partial index).
        indexes = [models.Index(fields=["customer"], name="holding_npl", condition=Q(status=HoldingStatus.NON_PERFORMING))]

    def __str__(self):
        return f"{self.product_name} {rules.mask_account_no(self.account_no)}"  # shown in the admin, logs


class Interaction(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="interactions",
                                 db_index=False)  # the composite index below starts with it
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("staff"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="interactions", db_index=False)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    occurred_at = models.DateTimeField(_("when"))
    outcome = models.CharField(_("outcome"), max_length=12, choices=InteractionOutcome.choices)
    notes = models.TextField(_("notes"), blank=True, validators=[MaxLengthValidator(2000)])
    next_follow_up = models.DateField(_("next follow-up"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["customer", "-occurred_at"], name="interaction_customer"),
                   models.Index(fields=["staff", "-occurred_at"], name="interaction_staff")]

    def __str__(self):
        return f"{self.get_channel_display()} {self.occurred_at:%Y-%m-%d}"


class FollowUpTask(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tasks",
                                 db_index=False)  # the composite index below starts with it
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("assignee"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="tasks", db_index=False)
    title = models.CharField(_("title"), max_length=200)
    due_date = models.DateField(_("due date"))
    status = models.CharField(_("status"), max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    outcome = models.CharField(_("outcome"), max_length=500, blank=True)
    source_interaction = models.ForeignKey(Interaction, null=True, blank=True, on_delete=models.SET_NULL,
                                           related_name="tasks", verbose_name=_("from interaction"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    # What a task created by the system for one event is created once for ("complaint-satisfaction:42"), unique:
    # services.task_schedule_once. Null for the tasks people create and the care jobs' (campaigns' CareKey).
    key = models.CharField(max_length=120, null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("follow-up task")
        verbose_name_plural = _("follow-up tasks")
        ordering = ["due_date", "id"]
        indexes = [models.Index(fields=["assignee", "status", "due_date"], name="task_assignee_open"),
                   models.Index(fields=["customer", "status"], name="task_customer")]
        constraints = [models.UniqueConstraint(fields=["key"], condition=Q(key__isnull=False), name="task_key_once")]

    def __str__(self):
        return self.title


class ImportKind(models.TextChoices):
    CUSTOMERS = "customers", _("Customers")
    SNAPSHOTS = "snapshots", _("Monthly financial snapshots")
    HOLDINGS = "holdings", _("Product holdings")


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ImportJob(models.Model):
    """One file import from core banking (a dry-run preview or the real run), its progress and its result."""

    kind = models.CharField(_("kind"), max_length=12, choices=ImportKind.choices)
    original_name = models.CharField(_("file name"), max_length=255)
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/", max_length=255)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"),
                                    on_delete=models.PROTECT, related_name="+")
    dry_run = models.BooleanField(_("dry run"), default=False)
    preview_of = models.ForeignKey("self", verbose_name=_("preview"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="applied_by",
                                   help_text=_("The dry run this import applies."))
    status = models.CharField(_("status"), max_length=10, choices=ImportStatus.choices,
                              default=ImportStatus.PENDING)
    rows_total = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    rows_done = models.PositiveIntegerField(_("rows done"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    errors_preview = models.JSONField(_("first rejected rows"), default=list, blank=True)
    warnings = models.JSONField(_("warnings"), default=list, blank=True)
    rejects_file = models.FileField(_("rejected rows"), upload_to="imports/rejects/", max_length=255, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    changes_preview = models.JSONField(
        _("what the import would change"), default=dict, blank=True,
        help_text=_("Of a dry run of customers: the number of changed records per field, how many records change "
                    "an identity field (name, ID, mobile), and the first changed records (old → new, masked)."))
    heartbeat_at = models.DateTimeField(
        _("last sign of life"), null=True, blank=True,
        help_text=_("Updated by the worker with the progress; a running job without a recent one is marked failed."))
    files_removed_at = models.DateTimeField(
        _("files removed"), null=True, blank=True,
        help_text=_("When the uploaded file and the rejected-rows file were deleted (they hold personal data and "
                    "are kept only CRM_IMPORT_FILE_RETENTION_DAYS after the job)."))

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["-created_at", "-id"], name="importjob_recent")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.original_name} ({self.get_status_display()})"

    @property
    def is_finished(self):
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED)

    @property
    def percent(self):
        if not self.rows_total:
            return 100 if self.is_finished else 0
        return min(100, round(100 * self.rows_done / self.rows_total))
