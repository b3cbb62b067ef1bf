"""The dispatcher (beat, every minute): sends the due messages, each exactly once.

A batch of due messages is claimed with ``FOR UPDATE SKIP LOCKED`` (two dispatchers never take the same one) and
checked again at send time: a marketing message whose customer has since opted out of its channel, or asked not to
be contacted, is cancelled with the reason; one that falls in quiet hours waits until they end; one over the
frequency cap moves to the next open window. The rest are marked *sending* with a pending attempt and committed
**before** the provider is called; each is then marked sent (or queued again with back-off after a failure).
A worker killed between the provider's acceptance and that mark leaves the message *sending*: ``reconcile`` marks
it *unknown* after a while — someone checks the provider's records — and it is never sent again blindly.
Hand-written: no library does this send-time bookkeeping; delivery of internal mail stays core.outbox's."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from core.outbox import retry_delay

from . import backends, rules
from .care import quiet_hours
from .models import Attempt, Message

MAX_ATTEMPTS = 6
CONSENT_FIELDS = {"sms": "consent_sms", "email": "consent_email", "app": "consent_app"}


def _write(messages: list[Message]) -> None:
    """Store the send state of many messages in one statement (``UPDATE … FROM unnest(…)``: Django's bulk_update
    builds a CASE per field and row, 90 % of a dispatch's time at 1,000 messages a batch)."""
    if not messages:
        return
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {Message._meta.db_table} m SET status = v.status, attempts = v.attempts, due_at = v.due_at, "
            f"cancel_reason = v.reason, sent_at = v.sent_at, provider_ref = v.ref, last_error = v.error "
            f"FROM unnest(%s::bigint[], %s::text[], %s::int[], %s::timestamptz[], %s::text[], %s::timestamptz[], "
            f"%s::text[], %s::text[]) AS v(id, status, attempts, due_at, reason, sent_at, ref, error) "
            f"WHERE m.id = v.id",
            [[m.pk for m in messages], [m.status for m in messages], [m.attempts for m in messages],
             [m.due_at for m in messages], [m.cancel_reason for m in messages], [m.sent_at for m in messages],
             [m.provider_ref for m in messages], [m.last_error for m in messages]])


def _cap_times(customer_ids: list[int], now: dt.datetime) -> dict[int, list[dt.datetime]]:
    """Marketing messages of these customers sent in the cap's window before ``now`` (one query)."""
    window = dt.timedelta(days=settings.CARE_CAP_DAYS)
    times: dict[int, list[dt.datetime]] = defaultdict(list)
    for customer_id, sent_at in (Message.objects.filter(customer_id__in=customer_ids, marketing=True)
                                 .filter(Q(sent_at__gt=now - window) | Q(status=Message.Status.SENDING))
                                 .exclude(channel="rm_task").values_list("customer_id", "sent_at")):
        times[customer_id].append(sent_at or now)
    return times


@transaction.atomic
def _claim(now: dt.datetime, batch: int) -> tuple[list[Message], dict]:
    counts = {"cancelled": 0, "deferred_quiet": 0, "deferred_cap": 0}
    # The batch's ids first, locked, from the message table alone; then the rows with their customers. One query
    # with the joins was planned, right after a launch had queued 200,000 messages and before autovacuum's ANALYZE,
    # as a join of every due message sorted afterwards (0.9 s a batch instead of milliseconds; bench/README.md).
    ids = list(Message.objects.select_for_update(skip_locked=True).filter(status=Message.Status.QUEUED,
                                                                          due_at__lte=now)
               .order_by("due_at", "id").values_list("pk", flat=True)[:batch])
    due = list(Message.objects.filter(pk__in=ids).select_related("customer", "campaign").order_by("due_at", "id"))
    if not due:
        return [], counts
    start, end = quiet_hours()
    opens = rules.next_allowed(now, quiet_start=start, quiet_end=end)
    capped = _cap_times(list({m.customer_id for m in due if m.marketing}), now)
    sending, changed, attempts = [], [], []
    window = dt.timedelta(days=settings.CARE_CAP_DAYS)
    for m in due:
        c = m.customer
        reason = rules.send_block(channel=m.channel, marketing=m.marketing, do_not_contact=c.do_not_contact,
                                  consents={ch: getattr(c, f) for ch, f in CONSENT_FIELDS.items()})
        if not reason and m.campaign_id and m.campaign.product_risk:  # the offer must still suit the customer
            fit = rules.suitability(customer_risk=c.risk_level, assessed_on=c.risk_assessed_on,
                                    product_risk=m.campaign.product_risk, birth=c.birth_date,
                                    today=timezone.localtime(now).date())
            reason = "" if fit.allowed and not fit.rm_task_only else "unsuitable"
        if reason:
            m.status, m.cancel_reason = Message.Status.CANCELLED, reason
            counts["cancelled"] += 1
        elif m.marketing and opens > now:
            m.due_at = opens
            counts["deferred_quiet"] += 1
        elif m.marketing and m.purpose == Message.Purpose.CAMPAIGN and (
                window_opens := rules.cap_window_opens(capped[c.pk], now, cap=settings.CARE_CAP,
                                                       window=window)) > now:
            m.due_at = window_opens
            counts["deferred_cap"] += 1
        else:
            m.status, m.attempts = Message.Status.SENDING, m.attempts + 1
            if m.marketing:
                capped[c.pk].append(now)
            attempts.append(Attempt(message=m, at=now))
            sending.append(m)
            continue
        changed.append(m)
    _write(sending + changed)
    Attempt.objects.bulk_create(attempts, batch_size=5000)
    return sending, counts


def dispatch(*, now: dt.datetime, batch: int = 500) -> dict:
    """Send one batch of due messages; counts by outcome."""
    sending, counts = _claim(now, batch)
    counts.update(sent=0, failed=0)
    if not sending:
        return counts
    accepted, failed = [], []
    with backends.backend() as backend:
        for m in sending:
            try:
                accepted.append((m, backend.send(m)))
            except Exception as exc:  # noqa: BLE001 (a provider's refusal is retried with back-off)
                failed.append((m, f"{type(exc).__name__}: {exc}"[:500]))
    with transaction.atomic():
        for m, ref in accepted:
            m.status, m.sent_at, m.provider_ref = Message.Status.SENT, now, ref
        for m, error in failed:
            m.last_error = error
            if m.attempts >= MAX_ATTEMPTS:
                m.status = Message.Status.FAILED
            else:
                m.status, m.due_at = Message.Status.QUEUED, now + retry_delay(m.attempts)
        _write([m for m, _x in accepted + failed])
        Attempt.objects.filter(message__in=[m for m, _x in accepted], outcome=Attempt.Outcome.PENDING).update(
            outcome=Attempt.Outcome.ACCEPTED)
        for m, error in failed:
            Attempt.objects.filter(message=m, outcome=Attempt.Outcome.PENDING).update(
                outcome=Attempt.Outcome.FAILED, detail=error)
    counts["sent"], counts["failed"] = len(accepted), len(failed)
    return counts


def dispatch_all(*, now: dt.datetime, batch: int = 500, limit: int = 100_000) -> dict:
    """Batches until nothing is due (or ``limit`` messages were looked at)."""
    total: dict = defaultdict(int)
    seen = 0
    while seen < limit:
        counts = dispatch(now=now, batch=batch)
        for k, v in counts.items():
            total[k] += v
        done = sum(counts.values())
        seen += done
        if done == 0:
            break
    return dict(total)


@transaction.atomic
def reconcile(*, now: dt.datetime) -> dict:
    """Messages left *sending* longer than ``CARE_UNKNOWN_AFTER_MINUTES`` (their worker died after handing them to
    the provider) are checked against the provider's records: taken → sent; confirmed never received → queued
    again; the provider cannot tell → *unknown*, for a person to reconcile. Never re-sent blindly."""
    cutoff = now - dt.timedelta(minutes=settings.CARE_UNKNOWN_AFTER_MINUTES)
    pending = Attempt.objects.filter(outcome=Attempt.Outcome.PENDING, at__lt=cutoff).values("message_id")
    stale = list(Message.objects.select_for_update(skip_locked=True, of=("self",)).filter(
        status=Message.Status.SENDING, pk__in=pending))
    counts = {"sent": 0, "requeued": 0, "unknown": 0}
    if not stale:
        return counts
    backend = backends.backend()
    for m in stale:
        ref = backend.lookup(m)
        if ref:
            m.status, m.sent_at, m.provider_ref, outcome = Message.Status.SENT, now, ref, Attempt.Outcome.ACCEPTED
            counts["sent"] += 1
        elif ref == "":
            m.status, m.due_at, outcome = Message.Status.QUEUED, now, Attempt.Outcome.FAILED
            counts["requeued"] += 1
        else:
            m.status, outcome = Message.Status.UNKNOWN, Attempt.Outcome.UNKNOWN
            counts["unknown"] += 1
        Attempt.objects.filter(message=m, outcome=Attempt.Outcome.PENDING).update(
            outcome=outcome, detail="the worker stopped before the outcome was recorded; reconciled")
    _write(stale)
    return counts
