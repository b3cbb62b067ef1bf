from django.db import models
from django.utils.translation import gettext_lazy as _


class BranchLevel(models.TextChoices):
    HEAD_OFFICE = "head_office", _("Head office")
    BRANCH = "branch", _("Branch")
    OUTLET = "outlet", _("Outlet")


class Role(models.TextChoices):
    RM = "rm", _("Relationship manager")
    SUPERVISOR = "supervisor", _("Branch supervisor")
    COMPLAINT_OFFICER = "complaint_officer", _("Complaint officer")
    HEAD_OFFICE = "head_office", _("Head-office admin")


class Scope(models.TextChoices):
    """Scopes an integration API key may carry."""

    PII_READ = "pii:read", _("Read full sensitive values")
    CUSTOMERS_READ = "customers:read", _("Read customers")
    CUSTOMERS_WRITE = "customers:write", _("Create and change customers")
    SNAPSHOTS_READ = "snapshots:read", _("Read financial snapshots and holdings")
    SNAPSHOTS_WRITE = "snapshots:write", _("Push financial snapshots and holdings")
    INTERACTIONS_WRITE = "interactions:write", _("Record interactions and tasks")
    SEGMENTS_READ = "segments:read", _("Read segments")
    SEGMENTS_RUN = "segments:run", _("Start segmentation runs")
    COMPLAINTS_READ = "complaints:read", _("Read complaints and the working calendar")
    COMPLAINTS_WRITE = "complaints:write", _("Record and work on complaints")
    CAMPAIGNS_READ = "campaigns:read", _("Read campaigns, audiences, messages and outcomes")
    CAMPAIGNS_WRITE = "campaigns:write", _("Create campaigns and record outcomes")
    CONSENTS_WRITE = "consents:write", _("Push customers' opt-outs (e.g. an SMS gateway's 退订 replies)")


class CalendarKind(models.TextChoices):
    """A per-date entry of the working calendar (org.rules.HOLIDAY / WORKDAY)."""

    HOLIDAY = "holiday", _("Day off")
    WORKDAY = "workday", _("Make-up working day")


class CalendarSource(models.TextChoices):
    """Where a year of the bank-wide calendar came from."""

    PACKAGE = "package", _("chinesecalendar package")
    IMPORT = "import", _("Imported file")
    MANUAL = "manual", _("Entered by head office")


class PiiField(models.TextChoices):
    ID_NUMBER = "id_number", _("ID number")
    MOBILE = "mobile", _("Mobile")
    ACCOUNT_NO = "account_no", _("Account number")
    CREDIT_CODE = "credit_code", _("Unified social credit code")


class AuditAction(models.TextChoices):
    """What an org audit event records (org.services writes one per change that matters)."""

    BRANCH_CREATED = "branch_created", _("Branch created")
    BRANCH_RENAMED = "branch_renamed", _("Branch renamed")
    STAFF_CREATED = "staff_created", _("Staff member created")
    STAFF_CHANGED = "staff_changed", _("Staff member changed")
    API_KEY_CREATED = "api_key_created", _("API key created")
    API_KEY_CHANGED = "api_key_changed", _("API key changed")
    API_KEY_REVOKED = "api_key_revoked", _("API key revoked")
    CALENDAR_DAY_SET = "calendar_day_set", _("Calendar day set")
    CALENDAR_DAY_REMOVED = "calendar_day_removed", _("Calendar day removed")
    WORKING_HOURS_SET = "working_hours_set", _("Working hours set")
    CALENDAR_YEAR_LOADED = "calendar_year_loaded", _("Calendar year loaded")
