"""Writes for the organisation: branches, staff, API keys, the PII-access log."""

from datetime import timedelta

from django.db import transaction

from .models import ApiKey, ApiKeyUse, Branch, PiiAccessLog, User


@transaction.atomic
def branch_create(*, code: str, name: str, level: str, parent: Branch | None = None) -> Branch:
    path = f"{parent.path if parent else '/'}{code}/"
    branch = Branch(code=code, name=name, level=level, parent=parent, path=path)
    branch.full_clean()
    branch.save()
    return branch


@transaction.atomic
def staff_create(*, username: str, password: str, role: str, branch: Branch | None,
                 first_name: str = "", last_name: str = "", email: str = "") -> User:
    user = User(username=username, role=role, branch=branch, first_name=first_name,
                last_name=last_name, email=email, is_staff=False)
    user.set_password(password)
    user.full_clean()
    user.save()
    return user


@transaction.atomic
def api_key_create(*, name: str, scopes: list[str], branch: Branch | None = None,
                   expiry_date=None) -> tuple[ApiKey, str]:
    api_key, key = ApiKey.objects.create_key(name=name, scopes=scopes, branch=branch, expiry_date=expiry_date)
    return api_key, key


def api_key_use_record(*, key: ApiKey, method: str, path: str, status: int, counts: dict | None = None):
    ApiKeyUse.objects.create(key=key, method=method, path=path[:255], status=status, counts=counts or {})


def pii_access_record(*, field: str, user: User | None = None, api_key: ApiKey | None = None,
                      customer=None, reason: str = "") -> PiiAccessLog:
    return PiiAccessLog.objects.create(
        user=user if user is not None and user.is_authenticated else None,
        api_key=api_key,
        customer_id=getattr(customer, "pk", None),
        customer_cif=getattr(customer, "cif", ""),
        field=field,
        reason=reason[:200],
    )


def user_language_set(*, user: User, language: str) -> None:
    user.language = language
    user.save(update_fields=["language"])


def housekeeping_run(*, now) -> dict:
    """Nightly clean-up: expired sessions and expired login-failure records. Safe to run twice."""
    from axes.models import AccessAttempt
    from django.conf import settings
    from django.contrib.sessions.models import Session

    from .models import IdempotencyRecord

    sessions, _ = Session.objects.filter(expire_date__lt=now).delete()
    attempts, _ = AccessAttempt.objects.filter(attempt_time__lt=now - settings.AXES_COOLOFF_TIME).delete()
    keys, _ = IdempotencyRecord.objects.filter(
        created_at__lt=now - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)).delete()
    return {"sessions": sessions, "login_attempts": attempts, "idempotency_keys": keys}
