"""The outbox: anything that leaves the system (a mail, a message, a webhook) is written as a row in the
transaction of the business change that causes it, and delivered by a worker after commit.

- ``emit(topic, payload)`` inside the business transaction: a change that rolls back sends nothing;
- ``@handler("topic")`` registers the function that delivers a topic's payload (registered when its module is
  imported: an app imports its handlers in ``AppConfig.ready``);
- ``deliver(now=..., batch=...)`` (the ``core.tasks.outbox_deliver`` task, every minute) claims due messages one
  at a time with ``SELECT … FOR UPDATE SKIP LOCKED``, runs the handler and marks the message delivered, all in
  one transaction, so two deliverers never run one message at the same time. A handler that raises is retried
  later (30 s, doubling up to 1 h) and given up after ``OUTBOX_MAX_ATTEMPTS`` attempts, its error kept.

Delivery is at least once: a worker killed after a handler's side effect and before the commit runs it again,
so handlers must tolerate a repeat (the payload can carry a key for the receiver to deduplicate on).
"""

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import OutboxMessage

logger = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)

_HANDLERS: dict[str, Callable[[dict], None]] = {}


def handler(topic: str):
    """Register the decorated function as the one that delivers ``topic``'s messages (it gets the payload)."""

    def register(func):
        if _HANDLERS.get(topic, func) is not func:
            raise ValueError(f"outbox topic {topic!r} already has a handler")
        _HANDLERS[topic] = func
        return func

    return register


def emit(topic: str, payload: dict) -> OutboxMessage:
    """Queue a message in the caller's transaction (refused outside one: it would outlive a rollback)."""
    return emit_many(topic, [payload])[0]


def emit_many(topic: str, payloads: list[dict]) -> list[OutboxMessage]:
    """Queue many messages of one topic at once (one bulk insert), in the caller's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("core.outbox.emit must run inside the transaction of the change that causes it")
    now = timezone.now()
    return OutboxMessage.objects.bulk_create(
        [OutboxMessage(topic=topic, payload=payload, available_at=now) for payload in payloads], batch_size=5000)


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt: 30 s, 1 min, 2 min, … at most 1 h."""
    return min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_RETRY)


def max_attempts() -> int:
    return settings.OUTBOX_MAX_ATTEMPTS


def deliver(*, now, batch: int = 100) -> dict:
    """Deliver up to ``batch`` due messages, each in its own transaction. Returns counts by outcome."""
    counts = {"delivered": 0, "failed": 0, "given_up": 0}
    for _ in range(batch):
        outcome = _deliver_one(now)
        if outcome is None:
            break
        counts[outcome] += 1
    return counts


@transaction.atomic
def _deliver_one(now) -> str | None:
    message = (OutboxMessage.objects.select_for_update(skip_locked=True)
               .filter(delivered_at__isnull=True, available_at__lte=now).order_by("available_at", "id").first())
    if message is None:
        return None
    message.attempts += 1
    try:
        func = _HANDLERS.get(message.topic)
        if func is None:
            raise LookupError(f"no handler for outbox topic {message.topic!r}")
        with transaction.atomic():  # a savepoint: what a failing handler wrote goes, the attempt is kept
            func(message.payload)
    except Exception as exc:  # noqa: BLE001 (any failure of a handler is retried later, its error kept)
        message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if message.attempts >= max_attempts():
            message.available_at = None
            outcome = "given_up"
            logger.error("outbox message %s (%s) given up after %d attempts: %s", message.pk, message.topic,
                         message.attempts, message.last_error)
        else:
            message.available_at = now + retry_delay(message.attempts)
            outcome = "failed"
            logger.warning("outbox message %s (%s) failed (attempt %d): %s", message.pk, message.topic,
                           message.attempts, message.last_error)
    else:
        message.delivered_at = now
        outcome = "delivered"
    message.save(update_fields=["attempts", "available_at", "delivered_at", "last_error"])
    return outcome


def purge(*, now) -> int:
    """Delete messages delivered more than ``OUTBOX_KEEP_DAYS`` (default 7) ago; returns how many."""
    cutoff = now - timedelta(days=settings.OUTBOX_KEEP_DAYS)
    deleted, _ = OutboxMessage.objects.filter(delivered_at__lt=cutoff).delete()
    return deleted
