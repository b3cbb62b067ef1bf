"""Writes for customers: one service per action, used by pages, API, admin and tasks alike."""

import copy
from datetime import date, timedelta

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core import ratelimit
from core.errors import Conflict, NotPermitted, PreconditionFailed, RateLimited, ValidationFailed
from org import access
from org.constants import Role
from org.permissions import can
from org.services import pii_access_record

from . import rules
from .constants import AUDITED_FIELDS, RevealReason, TaskStatus
from .models import Customer, CustomerChange, FollowUpTask, Interaction


def customer_check(customer: Customer, *, today: date) -> dict[str, list[str]]:
    """Rules of DOMAIN.md §2 (the record rules: ``rules.customer_record_problems``, as the bulk pipeline checks
    them); normalises values in place; returns field errors, the first problem of each field."""
    errors: dict[str, list[str]] = {}

    def fail(field, message):
        if field not in errors:
            errors[field] = [str(message)]

    try:
        customer.cif = rules.normalize_cif(customer.cif)
    except rules.RuleViolation as e:
        fail("cif", e.message)
    customer.name = (customer.name or "").strip()
    customer.name_bigrams = rules.bigrams(customer.name)
    if customer.birth_date and customer.birth_date > today:
        fail("birth_date", rules.BIRTH_DATE_FUTURE_MESSAGE)
    if customer.risk_assessed_on and customer.risk_assessed_on > today:
        fail("risk_assessed_on", rules.ASSESSMENT_FUTURE_MESSAGE)
    customer.tags = sorted({t.strip() for t in customer.tags or [] if t and t.strip()})
    if problem := rules.tags_problem(customer.tags):
        fail("tags", problem)

    record = {f: np.array([getattr(customer, f)], dtype=object) for f in rules.RECORD_FIELDS}
    for field, mask, message in rules.customer_record_problems(record, today=today):
        if mask[0]:
            fail(field, message[0] if isinstance(message, np.ndarray) else message)
    for f in ("mobile", "id_number", "credit_code", "birth_date", "gender"):
        setattr(customer, f, record[f][0])
    return errors


def _check_assignment(actor, customer: Customer) -> dict[str, list[str]]:
    """A writer may place a customer only inside their own scope (``org.access``)."""
    errors = {}
    if customer.branch_id is None:
        return {"branch": [_("Choose the customer's home branch.")]}
    scope = access.scope_of(actor)
    if not scope.may_place(customer.branch_id):
        errors["branch"] = [_("You cannot place customers in this branch.")]
    if customer.rm_id is not None:
        rm = customer.rm
        if rm.role != Role.RM or not rm.is_active:
            errors["rm"] = [_("Choose an active relationship manager.")]
        elif rm.branch_id is None or customer.branch_id not in access.branch_subtree_ids(rm.branch_id):
            errors["rm"] = [rules.RM_BRANCH_MESSAGE]
    if not scope.may_keep(customer.rm_id):
        errors["rm"] = [_("You can only keep customers in your own book.")]
    return errors


def _errors(actor, customer: Customer, *, today: date) -> dict[str, list[str]]:
    errors = customer_check(customer, today=today)
    for field, messages in _check_assignment(actor, customer).items():
        errors.setdefault(field, []).extend(messages)
    try:
        customer.full_clean(exclude=[f for f in errors] + ["name_bigrams"])
    except ValidationError as e:
        for field, messages in e.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    return errors


def _validate(actor, customer: Customer, *, today: date):
    errors = _errors(actor, customer, today=today)
    if errors:
        raise ValidationFailed(fields=errors)


def _new_customer(actor, data: dict) -> Customer:
    customer = Customer(**data)
    if access.is_rm(actor):
        customer.rm = actor
        customer.branch_id = customer.branch_id or actor.branch_id
    return customer


def customer_errors(*, actor, data: dict, today: date, customer: Customer | None = None) -> dict[str, list[str]]:
    """The field errors ``customer_create`` (or ``customer_update`` of ``customer``) would raise for ``data``,
    without saving anything: a form whose own field checks failed shows these too, all in one round."""
    if customer is None:
        candidate = _new_customer(actor, data)
    else:
        candidate = copy.copy(customer)
        for field, value in data.items():
            setattr(candidate, field, value)
    return _errors(actor, candidate, today=today)


def _snapshot(customer: Customer) -> dict:
    return {f: getattr(customer, f) for f in AUDITED_FIELDS}


def _record_changes(customer, before: dict, actor, source: str, created: bool = False):
    after = _snapshot(customer)
    empty = rules.EMPTY_VALUES
    changes = {f: [rules.jsonable(before.get(f)), rules.jsonable(after[f])] for f in AUDITED_FIELDS
               if before.get(f) != after[f] and not (before.get(f) in empty and after[f] in empty)}
    if changes:
        CustomerChange.objects.create(customer=customer, source=source, changes=changes, created=created,
                                      actor=access.user_of(actor), api_key=access.api_key_of(actor))
    return changes


CONSENT_FIELDS = {"sms": "consent_sms", "email": "consent_email", "phone": "consent_phone", "app": "consent_app"}


@transaction.atomic
def consent_withdraw(*, actor, customer: Customer, channels: list[str], source: str = "api") -> dict:
    """A customer's opt-out (e.g. an SMS gateway's 退订 reply pushed by an integration key with consents:write):
    the channels' marketing consents off (``"all"``: do not contact), recorded in the profile history. Messages
    already queued are cancelled when they come up for sending (campaigns.dispatch checks consent then)."""
    if not can(actor, "customers.withdraw_consent"):
        raise NotPermitted()
    unknown = [c for c in channels if c not in (*CONSENT_FIELDS, "all")]
    if unknown or not channels:
        raise ValidationFailed(fields={"channels": [_("Choose sms, email, phone, app or all.")]})
    locked = Customer.objects.select_for_update().get(pk=customer.pk)
    before = _snapshot(locked)
    for channel in channels:
        if channel == "all":
            locked.do_not_contact = True
        else:
            setattr(locked, CONSENT_FIELDS[channel], False)
    locked.save(update_fields=[*CONSENT_FIELDS.values(), "do_not_contact", "updated_at"])
    return _record_changes(locked, before, actor, source)


def customer_create(*, actor, data: dict, today: date, source: str = "web") -> Customer:
    if not can(actor, "customers.add_customer"):
        raise NotPermitted()
    customer = _new_customer(actor, data)
    _validate(actor, customer, today=today)
    try:
        with transaction.atomic():
            customer.save()
            _record_changes(customer, {}, actor, source, created=True)
            _refresh_version(customer)
    except IntegrityError:
        raise ValidationFailed(fields={"cif": [_("A customer with this CIF already exists.")]}) from None
    return customer


def customer_version(customer: Customer) -> int:
    """The version of a customer's row: the id of the transaction that last wrote it (stamped by a database
    trigger on every insert and update, whatever the write path: ORM, bulk SQL, admin). Drives the API's
    ETag / If-Match and the edit page's stale-save check."""
    return customer.change_txid or 0


def _check_version(locked: Customer, expected_version) -> None:
    """Refuse a write based on an older version of the row (checked under the row lock)."""
    if expected_version is None:
        return
    expected = {expected_version} if isinstance(expected_version, int) else set(expected_version)
    if customer_version(locked) not in expected:
        raise PreconditionFailed()


def customer_update(*, actor, customer: Customer, data: dict, today: date, source: str = "web",
                    expected_version=None) -> Customer:
    """Change a customer's fields. With ``expected_version`` (a version, or a collection of them) the write
    happens only if the row still has that version, checked under the row lock: else PreconditionFailed."""
    if not can(actor, "customers.change_customer", customer):
        raise NotPermitted()
    with transaction.atomic():
        locked = Customer.objects.select_for_update(of=("self",)).select_related("rm", "branch").get(pk=customer.pk)
        _check_version(locked, expected_version)
        before = _snapshot(locked)
        for field, value in data.items():
            setattr(locked, field, value)
        _validate(actor, locked, today=today)
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError:
            raise ValidationFailed(fields={"cif": [_("A customer with this CIF already exists.")]}) from None
        _record_changes(locked, before, actor, source)
        _refresh_version(locked)
    return locked


def _refresh_version(customer: Customer) -> None:
    # The trigger stamped the row in the database; read the stamp back so callers see the new version.
    customer.change_txid = Customer.objects.filter(pk=customer.pk).values_list("change_txid", flat=True).get()


def customer_tags_change(*, actor, customer: Customer, add=(), remove=(), source: str = "web",
                         expected_version=None) -> Customer:
    """Add and remove tags without replacing the list: read, change and write under the row lock, so
    parallel changes all count. Blank tags are ignored; the usual rules (at most 20 tags of at most 30
    characters) apply to the result. Writes one history entry when the tags changed."""
    if not can(actor, "customers.change_customer", customer):
        raise NotPermitted()
    add, remove = list(add), list(remove)
    errors = {}
    for i, tag in enumerate([*add, *remove]):
        name = f"add[{i}]" if i < len(add) else f"remove[{i - len(add)}]"
        if tag and "\x00" in tag:  # PostgreSQL cannot store or compare it
            errors[name] = [_("Null characters are not allowed.")]
        elif tag and i < len(add) and (problem := rules.tags_problem([tag.strip()])):
            errors[name] = [problem]
    if errors:
        raise ValidationFailed(fields=errors)
    add = {t.strip() for t in add if t and t.strip()}
    remove = {t.strip() for t in remove if t and t.strip()}
    with transaction.atomic():
        locked = Customer.objects.select_for_update(of=("self",)).get(pk=customer.pk)
        _check_version(locked, expected_version)
        before = _snapshot(locked)
        tags = sorted((set(locked.tags or []) | add) - remove)
        if tags != sorted(locked.tags or []):
            if problem := rules.tags_problem(tags):
                raise ValidationFailed(fields={"add": [problem]})
            locked.tags = tags
            locked.save(update_fields=["tags", "updated_at"])
            _record_changes(locked, before, actor, source)
            _refresh_version(locked)
    return locked


def pii_reveal(*, actor, customer: Customer, field: str, reason: str, detail: str = "") -> str:
    """The full value of one sensitive field of one customer, for a reason (``RevealReason``; "other" needs
    ``detail``); the reveal is logged with the reason. Each user or API key may reveal ``CRM_REVEAL_RATE``
    values (e.g. "30/h"): beyond that ``RateLimited``, and nothing is revealed or logged."""
    if field not in rules.MASKERS or not hasattr(customer, field):
        raise ValidationFailed(fields={"field": [_("This field cannot be revealed.")]})
    if not can(actor, "customers.reveal_pii", customer):
        raise NotPermitted()
    detail = " ".join((detail or "").split())
    if reason not in RevealReason.values:
        raise ValidationFailed(fields={"reason": [_("Choose why you need the full value.")]})
    if reason == RevealReason.OTHER and not detail:
        raise ValidationFailed(fields={"reason_detail": [_("Say in a few words why you need the full value.")]})
    allowed = ratelimit.hit("reveal", access.actor_ident(actor), ratelimit.Rate.parse(settings.CRM_REVEAL_RATE))
    if not allowed.allowed:
        raise RateLimited(_("You have revealed too many values for now: try again in %(minutes)s minutes.")
                          % {"minutes": max(1, -(-allowed.retry_after // 60))}, retry_after=allowed.retry_after)
    pii_access_record(field=field, customer=customer, reason=f"{reason}: {detail}" if detail else reason,
                      user=access.user_of(actor), api_key=access.api_key_of(actor))
    return getattr(customer, field)


EXPORT_COLUMNS = ("cif", "name", "kind", "mobile", "id_number", "credit_code", "lifecycle_stage", "risk_level",
                  "aum_latest", "rm__last_name", "rm__first_name", "rm__username", "branch__name", "tags",
                  "do_not_contact")
EXPORT_FORMATS = ("csv", "xlsx")


def customers_export_rows(*, actor, customers, filters: dict | None = None, file_format: str = "csv"):
    """Rows of the customer-list export, as the list shows them: ``customers`` already scoped, filtered and sorted
    by the caller (the list's own query). Sensitive values masked; choices, yes/no, the RM and the branch as the
    user reads them (in the active language: the first row, the header, is produced on the first ``next()``, and
    every label is resolved then, not later while the response streams). Logged (PiiAccessLog) with the filters,
    the format and the row count before the first row."""
    if not can(actor, "customers.export_customers"):
        raise NotPermitted()
    count = customers.count()
    shown = "; ".join(f"{k}={v}" for k, v in (filters or {}).items() if v not in ("", None))
    reason = _("Customer list export: %(count)d rows, %(format)s; filters: %(filters)s") % {
        "count": count, "format": file_format, "filters": shown or "—"}
    pii_access_record(field="export", user=actor, reason=reason if len(reason) <= 200 else reason[:199] + "…")
    field = Customer._meta.get_field
    labels = {name: {k: str(v) for k, v in field(name).flatchoices} for name in ("kind", "lifecycle_stage",
                                                                                 "risk_level")}
    yes, no = str(_("yes")), str(_("no"))
    yield [str(field(name).verbose_name) for name in ("cif", "name", "kind", "mobile")] + [
        str(_("ID / credit code"))] + [str(field(name).verbose_name) for name in (
            "lifecycle_stage", "risk_level", "aum_latest", "rm", "branch", "tags", "do_not_contact")]
    for (cif, name, kind, mobile, id_number, credit_code, stage, risk, aum, rm_last, rm_first, rm_username, branch,
         tags, dnc) in customers.values_list(*EXPORT_COLUMNS).iterator(chunk_size=2000):
        yield [cif, name, labels["kind"].get(kind, kind), rules.mask_mobile(mobile),
               rules.mask_id_number(id_number) if id_number else rules.mask_credit_code(credit_code),
               labels["lifecycle_stage"].get(stage, stage), labels["risk_level"].get(risk, risk), aum,
               f"{rm_last or ''}{rm_first or ''}".strip() or rm_username or "", branch or "", "; ".join(tags),
               yes if dnc else no]


def _interaction_errors(interaction: Interaction, *, now) -> dict[str, list[str]]:
    errors = {}
    if interaction.occurred_at and interaction.occurred_at > now + timedelta(minutes=5):
        errors["occurred_at"] = [_("An interaction cannot be in the future.")]
    today = timezone.localdate(now)
    if interaction.next_follow_up and interaction.next_follow_up < today:
        errors["next_follow_up"] = [_("The next follow-up cannot be in the past.")]
    try:
        interaction.full_clean(exclude=list(errors))
    except ValidationError as e:
        for field, messages in e.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    return errors


def interaction_errors(*, customer: Customer, data: dict, now) -> dict[str, list[str]]:
    """The field errors ``interaction_log`` would raise for ``data`` (nothing saved): a form whose own checks
    failed shows these too, in one round."""
    return _interaction_errors(Interaction(customer=customer, **data), now=now)


def interaction_log(*, actor, customer: Customer, data: dict, now) -> Interaction:
    """Record a contact; a next follow-up date creates an open task for the customer's RM."""
    if not can(actor, "customers.log_interaction", customer):
        raise NotPermitted()
    staff = access.user_of(actor)
    interaction = Interaction(customer=customer, staff=staff, **data)
    errors = _interaction_errors(interaction, now=now)
    if errors:
        raise ValidationFailed(fields=errors)
    with transaction.atomic():
        interaction.save()
        if interaction.next_follow_up:
            FollowUpTask.objects.create(
                customer=customer, assignee=customer.rm or staff, due_date=interaction.next_follow_up,
                title=_("Follow up: %(name)s") % {"name": customer.name}, source_interaction=interaction)
    return interaction


def task_create(*, actor, customer: Customer, title: str, due_date: date, today: date) -> FollowUpTask:
    if not can(actor, "customers.log_interaction", customer):
        raise NotPermitted()
    if due_date < today:
        raise ValidationFailed(fields={"due_date": [_("The due date cannot be in the past.")]})
    task = FollowUpTask(customer=customer, assignee=customer.rm or access.user_of(actor),
                        title=title, due_date=due_date)
    try:
        task.full_clean()
    except ValidationError as e:
        raise ValidationFailed(fields=e.message_dict) from None
    task.save()
    return task


def _locked_open_task(task: FollowUpTask) -> FollowUpTask:
    locked = FollowUpTask.objects.select_for_update().get(pk=task.pk)
    if locked.status != TaskStatus.OPEN:
        raise Conflict(_("This task is already closed."))
    return locked


def tasks_schedule(*, rows: list[tuple[int, int | None, str, date]]) -> list[FollowUpTask]:
    """Tasks the scheduled jobs give RMs (care reminders, follow-up plans): ``(customer id, assignee id, title,
    due date)`` each, created in bulk in the caller's transaction (the caller makes each one once: a care key)."""
    tasks = [FollowUpTask(customer_id=customer_id, assignee_id=assignee_id, title=title[:200], due_date=due)
             for customer_id, assignee_id, title, due in rows]
    return FollowUpTask.objects.bulk_create(tasks, batch_size=5000)


def task_schedule_once(*, key: str, customer_id: int, title: str, due_date: date) -> FollowUpTask | None:
    """A task the system gives the customer's RM for one event (e.g. the satisfaction call after a complaint is
    resolved), created once per ``key`` however often the event comes (the unique ``FollowUpTask.key``), in the
    caller's transaction. None when the customer has no RM (no one to give it to) or the key's task exists."""
    rm_id = Customer.objects.filter(pk=customer_id).values_list("rm_id", flat=True).first()
    if rm_id is None or FollowUpTask.objects.filter(key=key).exists():
        return None
    task = FollowUpTask(customer_id=customer_id, assignee_id=rm_id, title=title[:200], due_date=due_date, key=key)
    try:
        with transaction.atomic():  # a savepoint: a concurrent first one wins, the caller's transaction goes on
            task.save()
    except IntegrityError:
        return None
    return task


def task_close_by_key(*, key: str, outcome: str, now) -> bool:
    """Close the open task the system gave for one event (``task_schedule_once``'s ``key``) when what it asked for
    was done elsewhere (e.g. the satisfaction call answered in the complaint), in the caller's transaction. Whether
    an open task was closed."""
    return bool(FollowUpTask.objects.filter(key=key, status=TaskStatus.OPEN).update(
        status=TaskStatus.DONE, outcome=outcome[:500], completed_at=now))


@transaction.atomic
def task_complete(*, actor, task: FollowUpTask, outcome: str, now) -> FollowUpTask:
    if not can(actor, "customers.log_interaction", task.customer):
        raise NotPermitted()
    locked = _locked_open_task(task)
    if len(outcome or "") > 500:
        raise ValidationFailed(fields={"outcome": [_("Keep the outcome under 500 characters.")]})
    locked.status = TaskStatus.DONE
    locked.outcome = outcome or ""
    locked.completed_at = now
    locked.save(update_fields=["status", "outcome", "completed_at"])
    return locked


@transaction.atomic
def task_snooze(*, actor, task: FollowUpTask, until: date, today: date) -> FollowUpTask:
    if not can(actor, "customers.log_interaction", task.customer):
        raise NotPermitted()
    locked = _locked_open_task(task)
    if until <= today:
        raise ValidationFailed(fields={"due_date": [_("Snooze to a later day.")]})
    locked.due_date = until
    locked.save(update_fields=["due_date"])
    return locked
