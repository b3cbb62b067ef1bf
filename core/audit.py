"""Audit events: one form for every app (who, which actor, on whose behalf, what type, which object, old → new,
when), written in the transaction of the change it records.

Each app keeps its event types in a ``TextChoices`` of its own and registers it once, in its ``AppConfig.ready``:
``audit.event_types(OrgEvent)``. ``record`` refuses a type nobody registered and refuses to run outside an
atomic block, so an event can never outlive a change that rolled back (nor a change be kept without its event).
"""

from django.db import models, transaction

from .models import AuditEvent

_LABELS: dict[str, object] = {}  # event type value → its label, across every registered enum


def event_types(choices: type[models.TextChoices]) -> type[models.TextChoices]:
    """Register an app's enum of audit event types. A value another enum already registered is refused."""
    for value, label in choices.choices:
        if _LABELS.get(value, label) != label:
            raise ValueError(f"audit event type {value!r} is registered twice")
        _LABELS[value] = label
    return choices


def type_choices() -> list[tuple[str, object]]:
    """Every registered event type as (value, label), for filters and the admin."""
    return sorted(_LABELS.items(), key=lambda pair: pair[0])


def type_label(value: str):
    return _LABELS.get(value, value)


def record(*, type: str, obj, user=None, api_key=None, on_behalf_of=None, changes: dict | None = None,
           object_repr: str | None = None) -> AuditEvent:
    """Write one audit event about ``obj`` (a model instance) in the caller's transaction.

    ``user`` made the change (an anonymous user counts as nobody), or ``api_key`` (any model instance: its id is
    kept) if an integration client did; ``on_behalf_of`` is the user it was done for, if not the same.
    ``changes`` maps field → [old, new].
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("core.audit.record must run inside the transaction of the change it records")
    if type not in _LABELS:
        raise ValueError(f"unknown audit event type {type!r}: register its enum with core.audit.event_types")
    return AuditEvent.objects.create(
        type=type, user=user if user is not None and user.is_authenticated else None,
        api_key=str(api_key.pk) if api_key is not None else "", on_behalf_of=on_behalf_of,
        object_type=obj._meta.model_name, object_id=str(obj.pk),
        object_repr=(str(obj) if object_repr is None else object_repr)[:200], changes=changes or {})
