from django.db import models
from django.utils.translation import gettext_lazy as _


class CustomerKind(models.TextChoices):
    INDIVIDUAL = "individual", _("Individual")
    CORPORATE = "corporate", _("Corporate")


class Gender(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class IdType(models.TextChoices):
    RESIDENT_ID = "resident_id", _("Resident identity card")
    PASSPORT = "passport", _("Passport")
    HK_MACAO_PERMIT = "hk_macao_permit", _("Mainland travel permit (HK/Macao)")
    TAIWAN_PERMIT = "taiwan_permit", _("Mainland travel permit (Taiwan)")
    FOREIGN_PR = "foreign_pr", _("Foreign permanent resident ID")


class RiskLevel(models.TextChoices):
    C1 = "C1", _("C1 Conservative")
    C2 = "C2", _("C2 Cautious")
    C3 = "C3", _("C3 Balanced")
    C4 = "C4", _("C4 Growth")
    C5 = "C5", _("C5 Aggressive")


class ProductRisk(models.TextChoices):
    R1 = "R1", _("R1 Low")
    R2 = "R2", _("R2 Medium-low")
    R3 = "R3", _("R3 Medium")
    R4 = "R4", _("R4 Medium-high")
    R5 = "R5", _("R5 High")


class LifecycleStage(models.TextChoices):
    PROSPECT = "prospect", _("Prospect")
    DEVELOPMENT = "development", _("Development")
    GROWTH = "growth", _("Growth")
    MATURITY = "maturity", _("Maturity")
    DECLINE = "decline", _("Decline")
    TERMINATED = "terminated", _("Terminated")


class IncomeBand(models.TextChoices):
    UNDER_50K = "lt50k", _("Under ¥50,000 a year")
    FROM_50K = "50k_150k", _("¥50,000–150,000 a year")
    FROM_150K = "150k_500k", _("¥150,000–500,000 a year")
    FROM_500K = "500k_1m", _("¥500,000–1,000,000 a year")
    OVER_1M = "gt1m", _("Over ¥1,000,000 a year")


class CompanySize(models.TextChoices):
    MICRO = "micro", _("Micro")
    SMALL = "small", _("Small")
    MEDIUM = "medium", _("Medium")
    LARGE = "large", _("Large")


class ProductType(models.TextChoices):
    DEPOSIT = "deposit", _("Deposit")
    TIME_DEPOSIT = "time_deposit", _("Time deposit")
    WEALTH = "wealth", _("Wealth management")
    FUND = "fund", _("Fund")
    INSURANCE = "insurance", _("Insurance")
    LOAN = "loan", _("Loan")
    CREDIT_CARD = "credit_card", _("Credit card")


class HoldingStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    MATURED = "matured", _("Matured")
    CLOSED = "closed", _("Closed")
    NON_PERFORMING = "npl", _("Non-performing")


class Channel(models.TextChoices):
    VISIT = "visit", _("Visit")
    PHONE = "phone", _("Phone call")
    SMS = "sms", _("SMS")
    MEETING = "meeting", _("Meeting at the branch")
    WECHAT = "wechat", _("WeChat")
    EMAIL = "email", _("Email")


class InteractionOutcome(models.TextChoices):
    REACHED = "reached", _("Reached")
    NOT_REACHED = "not_reached", _("Not reached")
    INTERESTED = "interested", _("Interested")
    DECLINED = "declined", _("Declined")
    COMPLAINT = "complaint", _("Raised a complaint")
    DONE = "done", _("Business done")


class TaskStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class ChangeSource(models.TextChoices):
    WEB = "web", _("Web page")
    API = "api", _("API")
    IMPORT = "import", _("Core-banking import")


OPEN_TASK_STATUSES = {TaskStatus.OPEN}

class RevealReason(models.TextChoices):
    """Why a full sensitive value is revealed (logged with the reveal; "other" needs a few words)."""

    IDENTITY_VERIFICATION = "identity_verification", _("Identity verification")
    ACCOUNT_SERVICING = "account_servicing", _("Account servicing")
    COMPLAINT_HANDLING = "complaint_handling", _("Complaint handling")
    CUSTOMER_REQUEST = "customer_request", _("At the customer's request")
    OTHER = "other", _("Other (say why)")


# Sensitive fields masked everywhere unless revealed (DOMAIN.md §2).
SENSITIVE_CUSTOMER_FIELDS = ("id_number", "mobile", "credit_code")


# The profile fields whose changes are recorded (CustomerChange), in the order they are shown.
AUDITED_FIELDS = (
    "cif", "kind", "name", "gender", "birth_date", "id_type", "id_number", "occupation", "income_band",
    "credit_code", "industry", "company_size", "legal_representative", "contact_person", "mobile", "email",
    "address", "consent_sms", "consent_email", "consent_phone", "consent_app", "do_not_contact", "lunar_birthday",
    "risk_level", "risk_assessed_on", "lifecycle_stage", "branch_id", "rm_id", "tags", "notes",
)
