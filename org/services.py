"""Writes for the organisation: branches, staff, API keys, the PII-access log."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core import audit, idempotency, outbox

from .constants import AuditAction, Role, Scope
from .models import ApiKey, ApiKeyUse, Branch, PiiAccessLog, User


def _diff(old: dict, new: dict) -> dict:
    return {field: [old[field], new[field]] for field in new if old[field] != new[field]}


def _branch_code(branch: Branch | None) -> str | None:
    return branch.code if branch is not None else None


# --- Branches ---

def branch_path(*, code: str, parent: Branch | None) -> str:
    """The materialised path a branch gets: its parent's path + its code + "/" ("/HO/BJ/BJ01/")."""
    return f"{parent.path if parent else '/'}{code}/"


@transaction.atomic
def branch_create(*, code: str, name: str, level: str, parent: Branch | None = None,
                  actor: User | None = None) -> Branch:
    branch = Branch(code=code, name=name, level=level, parent=parent, path=branch_path(code=code, parent=parent))
    branch.full_clean()
    branch.save()
    audit.record(user=actor, type=AuditAction.BRANCH_CREATED, obj=branch,
           changes={"code": [None, code], "name": [None, name], "level": [None, level],
                    "parent": [None, _branch_code(parent)]})
    return branch


@transaction.atomic
def branch_rename(*, branch: Branch, name: str, actor: User | None = None) -> Branch:
    """The one change a branch takes: its name. Its code, level and parent make its path (and so who sees
    what): they are fixed once it exists."""
    branch = Branch.objects.select_for_update().get(pk=branch.pk)
    old = branch.name
    if name == old:
        return branch
    branch.name = name
    branch.full_clean()
    branch.save(update_fields=["name"])
    audit.record(user=actor, type=AuditAction.BRANCH_RENAMED, obj=branch, changes={"name": [old, name]})
    return branch


# --- Staff ---

STAFF_FIELDS = ("first_name", "last_name", "email", "role", "branch", "language", "is_active")


def _staff_check(user: User) -> None:
    if user.role != Role.HEAD_OFFICE and user.branch_id is None:
        raise ValidationError({"branch": _("Choose the branch this member of staff works at "
                                           "(only head office may have none).")})
    # Head office works in the admin (API keys, staff, branches); nobody else does, bar superusers.
    user.is_staff = user.is_superuser or user.role == Role.HEAD_OFFICE


def _staff_values(user: User) -> dict:
    values = {field: getattr(user, field) for field in STAFF_FIELDS if field != "branch"}
    values["branch"] = _branch_code(user.branch)
    return values


@transaction.atomic
def staff_create(*, username: str, password: str | None, role: str, branch: Branch | None,
                 first_name: str = "", last_name: str = "", email: str = "", actor: User | None = None) -> User:
    user = User(username=username, role=role, branch=branch, first_name=first_name,
                last_name=last_name, email=email)
    _staff_check(user)
    user.set_password(password)
    user.full_clean()
    user.save()
    audit.record(user=actor, type=AuditAction.STAFF_CREATED, obj=user,
           changes={field: [None, value] for field, value in _staff_values(user).items() if value not in ("", None)})
    return user


@transaction.atomic
def staff_update(*, user: User, actor: User | None = None, **changes) -> User:
    """Change a member of staff: name, email, role, branch, language, active. Writes what changed, old → new."""
    unknown = set(changes) - set(STAFF_FIELDS)
    if unknown:
        raise TypeError(f"staff_update cannot change {sorted(unknown)}")
    user = User.objects.select_for_update(of=("self",)).select_related("branch").get(pk=user.pk)
    old = _staff_values(user)
    for field, value in changes.items():
        setattr(user, field, value)
    _staff_check(user)
    user.full_clean(exclude=["password"])
    user.save()
    diff = _diff(old, _staff_values(user))
    if diff:
        audit.record(user=actor, type=AuditAction.STAFF_CHANGED, obj=user, changes=diff)
    return user


# --- API keys ---

def _scopes_check(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(Scope.values))
    if unknown:
        raise ValidationError({"scopes": _("Unknown scopes: %(scopes)s.") % {"scopes": ", ".join(unknown)}})
    return list(dict.fromkeys(scopes))  # as given, without repeats


def _key_values(key: ApiKey) -> dict:
    return {"name": key.name, "scopes": list(key.scopes), "branch": _branch_code(key.branch),
            "expiry_date": key.expiry_date.isoformat() if key.expiry_date else None, "revoked": key.revoked}


@transaction.atomic
def api_key_create(*, name: str, scopes: list[str], branch: Branch | None = None,
                   expiry_date=None, actor: User | None = None) -> tuple[ApiKey, str]:
    """A new key; the key itself is returned once (only its hash is stored) and never written to the audit."""
    api_key, key = ApiKey.objects.create_key(name=name, scopes=_scopes_check(scopes), branch=branch,
                                             expiry_date=expiry_date)
    audit.record(user=actor, type=AuditAction.API_KEY_CREATED, obj=api_key,
           changes={field: [None, value] for field, value in _key_values(api_key).items()
                    if value not in (None, False)} | {"prefix": [None, api_key.prefix]})
    return api_key, key


@transaction.atomic
def api_key_update(*, key: ApiKey, actor: User | None = None, **changes) -> ApiKey:
    """Change a key's name, scopes, branch subtree or expiry. A revoked key stays as it was."""
    unknown = set(changes) - {"name", "scopes", "branch", "expiry_date"}
    if unknown:
        raise TypeError(f"api_key_update cannot change {sorted(unknown)}")
    key = ApiKey.objects.select_for_update(of=("self",)).select_related("branch").get(pk=key.pk)
    if key.revoked:
        raise ValidationError(_("This API key has been revoked and can no longer be changed."))
    old = _key_values(key)
    if "scopes" in changes:
        changes["scopes"] = _scopes_check(changes["scopes"])
    for field, value in changes.items():
        setattr(key, field, value)
    key.full_clean()
    key.save()
    diff = _diff(old, _key_values(key))
    if diff:
        audit.record(user=actor, type=AuditAction.API_KEY_CHANGED, obj=key, changes=diff)
    return key


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor: User | None = None) -> bool:
    """Revoke a key for good (clients get 401 from the next request). False when it already was."""
    key = ApiKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked:
        return False
    key.revoked = True
    key.save(update_fields=["revoked"])
    audit.record(user=actor, type=AuditAction.API_KEY_REVOKED, obj=key, changes={"revoked": [False, True]})
    return True


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
    """Nightly clean-up: expired sessions, login-failure records, Idempotency-Keys and delivered outbox messages.
    Safe to run twice."""
    from axes.models import AccessAttempt
    from django.conf import settings
    from django.contrib.sessions.models import Session

    sessions, _ = Session.objects.filter(expire_date__lt=now).delete()
    attempts, _ = AccessAttempt.objects.filter(attempt_time__lt=now - settings.AXES_COOLOFF_TIME).delete()
    return {"sessions": sessions, "login_attempts": attempts, "idempotency_keys": idempotency.purge(now=now),
            "outbox_messages": outbox.purge(now=now)}
