"""Writes for the organisation: branches, staff, API keys, the PII-access log."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core import audit, idempotency, outbox
from core.errors import NotPermitted, ValidationFailed

from . import rules
from .constants import AuditAction, CalendarKind, CalendarSource, Role, Scope
from .models import ApiKey, ApiKeyUse, Branch, CalendarDay, CalendarYear, PiiAccessLog, User, WorkingHours
from .permissions import can
from .signals import calendar_changed


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


# --- Working calendar ---

def _calendar_changed(branch: Branch | None) -> None:
    """After the change commits: ``org.signals.calendar_changed`` for the apps whose deadlines follow it."""
    branch_id = branch.pk if branch is not None else None
    transaction.on_commit(lambda: calendar_changed.send(sender=CalendarDay, branch_id=branch_id))


def _calendar_actor(actor) -> None:
    """Head office changes the calendar (``actor`` None: the system, e.g. a migration or the seed command)."""
    if actor is not None and not can(actor, "org.change_calendar"):
        raise NotPermitted


def _week_messages(problems) -> list[str]:
    days = [_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday")]
    texts = {
        rules.WEEK_SHAPE: _("Give the working hours of seven days, Monday first."),
        rules.BAD_TIME: _("%(day)s: write each time as HH:MM, e.g. 09:00."),
        rules.EMPTY_INTERVAL: _("%(day)s: an interval must end after it starts."),
        rules.OVERLAP: _("%(day)s: intervals must be in order and must not overlap."),
        rules.NO_HOURS: _("At least one day needs working hours."),
    }
    return [texts[code] % {"day": days[weekday] if weekday >= 0 else ""} for weekday, code in problems]


@transaction.atomic
def working_hours_set(*, branch: Branch, week, actor: User | None = None) -> WorkingHours:
    """``branch``'s own working hours (seven lists, Monday first, of ["HH:MM", "HH:MM"]); the branches below it
    inherit them unless they set their own."""
    _calendar_actor(actor)
    parsed, problems = rules.parse_week(week)
    if problems:
        raise ValidationFailed(fields={"week": _week_messages(problems)})
    stored = rules.format_week(parsed)
    current = WorkingHours.objects.select_for_update().filter(branch=branch).first()
    old = current.week if current else None
    if current is None:
        current = WorkingHours.objects.create(branch=branch, week=stored)
    elif old != stored:
        current.week = stored
        current.save(update_fields=["week", "updated_at"])
    if old != stored:
        audit.record(user=actor, type=AuditAction.WORKING_HOURS_SET, obj=branch, changes={"week": [old, stored]})
        _calendar_changed(branch)
    return current


@transaction.atomic
def working_hours_clear(*, branch: Branch, actor: User | None = None) -> bool:
    """``branch`` inherits its working hours again."""
    _calendar_actor(actor)
    current = WorkingHours.objects.select_for_update().filter(branch=branch).first()
    if current is None:
        return False
    audit.record(user=actor, type=AuditAction.WORKING_HOURS_SET, obj=branch, changes={"week": [current.week, None]})
    current.delete()
    _calendar_changed(branch)
    return True


@transaction.atomic
def calendar_day_set(*, day, kind: str, name: str = "", branch: Branch | None = None,
                     actor: User | None = None) -> CalendarDay:
    """A day off or a make-up working day for the bank (``branch`` None) or for a branch and the ones below it."""
    _calendar_actor(actor)
    if kind not in CalendarKind.values:
        raise ValidationFailed(fields={"kind": [_("Choose a day off or a make-up working day.")]})
    if kind == CalendarKind.WORKDAY and day.weekday() < 5:
        raise ValidationFailed(fields={"kind": [_("Monday to Friday are working days already: a make-up working "
                                                  "day is a Saturday or a Sunday.")]})
    entry = CalendarDay.objects.select_for_update().filter(branch=branch, day=day).first()
    old = (entry.kind, entry.name) if entry else (None, None)
    if entry is None:
        entry = CalendarDay(branch=branch, day=day)
    entry.kind, entry.name = kind, name.strip()
    entry.full_clean(validate_unique=False)
    entry.save()
    if old != (entry.kind, entry.name):
        audit.record(user=actor, type=AuditAction.CALENDAR_DAY_SET, obj=entry,
                     changes={"day": [None, day.isoformat()], "kind": [old[0], kind], "name": [old[1], entry.name],
                              "branch": [None, _branch_code(branch)]})
        _calendar_changed(branch)
    return entry


@transaction.atomic
def calendar_day_remove(*, day, branch: Branch | None = None, actor: User | None = None) -> bool:
    _calendar_actor(actor)
    entry = CalendarDay.objects.select_for_update().filter(branch=branch, day=day).first()
    if entry is None:
        return False
    audit.record(user=actor, type=AuditAction.CALENDAR_DAY_REMOVED, obj=entry,
                 changes={"day": [day.isoformat(), None], "kind": [entry.kind, None],
                          "branch": [_branch_code(branch), None]})
    entry.delete()
    _calendar_changed(branch)
    return True


def _file_messages(problems) -> list[str]:
    texts = {
        rules.BAD_DATE: _("Row %(row)s: the date is not a date of the calendar (YYYY-MM-DD)."),
        rules.BAD_KIND: _("Row %(row)s: the kind must be holiday or workday (休 or 班)."),
        rules.OTHER_YEAR: _("Row %(row)s: the date is not in %(year)s."),
        rules.DUPLICATE: _("Row %(row)s: the date is listed twice."),
        rules.WEEKDAY_WORKDAY: _("Row %(row)s: a make-up working day must be a Saturday or a Sunday."),
    }
    return [(row, texts[code]) for row, _column, code in problems]


@transaction.atomic
def calendar_year_load(*, year: int, rows, source: str = CalendarSource.IMPORT,
                       actor: User | None = None) -> dict:
    """A whole year of the bank-wide calendar (the State Council's schedule) from rows of (date, kind, name):
    checked first, then the year's bank-wide entries replaced in one transaction and the year marked complete (no
    longer provisional). Branches' own entries stay. Returns the counts."""
    _calendar_actor(actor)
    if not 1990 <= year <= 2100:
        raise ValidationFailed(fields={"year": [_("Enter a year between 1990 and 2100.")]})
    entries, problems = rules.year_entries(year, rows)
    if problems:
        raise ValidationFailed(fields={"file": [text % {"row": row, "year": year}
                                                for row, text in _file_messages(problems)[:50]]})
    if not entries:
        raise ValidationFailed(fields={"file": [_("The file holds no days.")]})
    in_year = CalendarDay.objects.filter(branch__isnull=True, day__year=year)
    before = {(d, k) for d, k in in_year.values_list("day", "kind")}
    in_year.delete()
    CalendarDay.objects.bulk_create(CalendarDay(branch=None, day=day, kind=kind, name=name)
                                    for day, (kind, name) in sorted(entries.items()))
    marked, _created = CalendarYear.objects.update_or_create(year=year, defaults={"source": source})
    after = {(d, k) for d, (k, _n) in entries.items()}
    counts = {"year": year, "days_off": sum(k == CalendarKind.HOLIDAY for _d, (k, _n) in entries.items()),
              "workdays": sum(k == CalendarKind.WORKDAY for _d, (k, _n) in entries.items()),
              "added": len(after - before), "removed": len(before - after)}
    audit.record(user=actor, type=AuditAction.CALENDAR_YEAR_LOADED, obj=marked,
                 changes={"source": [None, source], **{k: [None, v] for k, v in counts.items() if k != "year"}})
    _calendar_changed(None)
    return counts


def calendar_seed(*, years=None, actor: User | None = None) -> list[dict]:
    """The bank-wide calendar of the years the ``chinesecalendar`` package holds (or of ``years`` among them) loaded
    again from the package, a year per transaction."""
    entries, covered = rules.chinese_calendar_entries()
    names = rules.chinese_calendar_names()
    wanted = sorted(covered if years is None else set(years) & covered)
    return [calendar_year_load(year=year, source=CalendarSource.PACKAGE, actor=actor,
                               rows=[(d.isoformat(), k, names.get(d, "")) for d, k in sorted(entries.items())
                                     if d.year == year])
            for year in wanted]
