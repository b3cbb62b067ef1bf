"""The SLA monitor (a beat task every few minutes): every open complaint's service clock counted in whole columns,
warnings at 75 % and 90 % of the allowed time and at a breach, and the escalation ladder (handler → branch
supervisor → superior branch → head office), each step recorded once.

Exactly once, however often it runs and on however many workers at once: an ``Alert`` row per complaint, kind,
target and level is inserted with ``ON CONFLICT DO NOTHING … RETURNING``, and only the rows a pass inserted get
their timeline event, their notification (outbox, in the same transaction) and their escalation. Warnings fall in
working time: outside the branch's working hours they wait for the next pass that is inside them. A deactivated
policy's complaints get no warnings. Hand-written around numpy because the work is one vectorised pass per branch
calendar (``org.rules.BusinessClock``) rather than a loop over complaints."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from core import outbox
from org import selectors as org_selectors
from org.models import Branch
from org.rules import BusinessClock, epoch

from . import rules
from .constants import AlertKind, ClockMode, ClockTarget, EventKind, SlaState
from .models import Alert, ClockRun, Complaint, ComplaintEvent

ALERT_TOPIC = "complaints.alert"
BREACH = len(rules.WARNINGS)  # the warning level of a breach (after 0: 75 %, 1: 90 %)


def _columns(now: dt.datetime):
    """The open complaints whose policy is active, and the runs of their service clocks."""
    complaints = list(Complaint.objects.filter(status__in=rules.OPEN, policy__active=True).values_list(
        "pk", "branch_id", "major", "first_responded_at", "escalation_level", "sla_state",
        "policy__first_response_seconds", "policy__first_response_mode", "policy__resolution_seconds",
        "policy__resolution_mode"))
    runs = list(ClockRun.objects.filter(complaint__status__in=rules.OPEN, complaint__policy__active=True,
                                        started_at__lt=now).values_list("complaint_id", "started_at", "ended_at"))
    return complaints, runs


def _used(runs, complaints, now: dt.datetime, today: dt.date) -> tuple[dict, dict, dict]:
    """Per complaint: business and calendar seconds its clock ran up to ``now``; per branch: whether ``now`` is in
    its working time. One business clock per branch, over its earliest run to tomorrow; numpy over the runs."""
    at = epoch(now)
    branch_of = {c[0]: c[1] for c in complaints}
    ids = np.array([r[0] for r in runs], dtype=np.int64)
    starts = np.array([epoch(r[1]) for r in runs], dtype=np.int64)
    ends = np.array([epoch(r[2]) if r[2] is not None else at for r in runs], dtype=np.int64)
    ends = np.minimum(ends, at)
    branches_of_runs = np.array([branch_of[i] for i in ids.tolist()], dtype=np.int64)
    counted = np.zeros(len(runs), dtype=np.int64)
    working = {}
    branches = {b.pk: b for b in Branch.objects.filter(pk__in={c[1] for c in complaints})}
    for branch_id, branch in branches.items():
        mask = branches_of_runs == branch_id
        first = int(starts[mask].min()) if mask.any() else at
        first_day = timezone.localtime(dt.datetime.fromtimestamp(first, dt.UTC)).date()
        clock = BusinessClock(org_selectors.working_calendar(branch), first_day - dt.timedelta(days=1),
                              today + dt.timedelta(days=1))
        working[branch_id] = bool(clock.next_working(at) == at)
        if mask.any():
            counted[mask] = clock.business_seconds(starts[mask], ends[mask])
    business, calendar = defaultdict(int), defaultdict(int)
    for complaint_id, b, c in zip(ids.tolist(), counted.tolist(), (ends - starts).clip(0).tolist(), strict=True):
        business[complaint_id] += b
        calendar[complaint_id] += c
    return business, calendar, working


def _due_alerts(complaints, business, calendar, working) -> tuple[list[tuple], dict]:
    """(complaint, kind, target, level) of every alert the shares have reached; and each complaint's SLA state."""
    alerts, states = [], {}
    for (pk, branch_id, major, responded, _level, _state, first_s, first_mode, res_s, res_mode) in complaints:
        used = {ClockMode.BUSINESS: business.get(pk, 0), ClockMode.CALENDAR: calendar.get(pk, 0)}
        shares = {ClockTarget.RESOLUTION: used[res_mode] / res_s}
        if responded is None:
            shares[ClockTarget.FIRST_RESPONSE] = used[first_mode] / first_s
        for target, share in shares.items():
            if working[branch_id]:
                alerts += [(pk, AlertKind.WARNING, target, k) for k in rules.warnings_reached(share)]
            if share > 1:
                alerts.append((pk, AlertKind.WARNING, target, BREACH))
        level = rules.escalation_level(shares[ClockTarget.RESOLUTION], major=major)
        alerts += [(pk, AlertKind.ESCALATION, ClockTarget.RESOLUTION, k) for k in range(1, level + 1)]
        worst = max(shares.values())
        states[pk] = SlaState.BREACHED if worst > 1 else SlaState.AT_RISK if worst >= rules.WARNINGS[0] else None
    return alerts, states


def _insert(alerts: list[tuple], now: dt.datetime) -> list[tuple]:
    """The alerts this pass is the first to record: those not recorded before (read once), inserted with ON CONFLICT
    DO NOTHING … RETURNING (another pass at the same moment may record some of them first)."""
    recorded = set(Alert.objects.filter(complaint__status__in=rules.OPEN).values_list(
        "complaint_id", "kind", "target", "level"))
    alerts = [a for a in alerts if a not in recorded]
    if not alerts:
        return []
    table = Alert._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {table} (complaint_id, kind, target, level, at) "
            f"SELECT c, k, t, l, %s FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::int[]) AS a(c, k, t, l) "
            f"ON CONFLICT (complaint_id, kind, target, level) DO NOTHING "
            f"RETURNING complaint_id, kind, target, level",
            [now, [a[0] for a in alerts], [a[1] for a in alerts], [a[2] for a in alerts], [a[3] for a in alerts]])
        return cur.fetchall()


@transaction.atomic
def sla_monitor(*, now: dt.datetime) -> dict:
    """One pass over every open complaint: states, new warnings and escalation steps (recorded, notified and
    applied once). Returns counts."""
    complaints, runs = _columns(now)
    business, calendar, working = _used(runs, complaints, now, timezone.localtime(now).date())
    due, states = _due_alerts(complaints, business, calendar, working)
    new = _insert(due, now)
    levels = {c[0]: c[4] for c in complaints}
    climbed: dict[int, int] = {}
    for complaint_id, kind, _target, level in new:
        if kind == AlertKind.ESCALATION and level > climbed.get(complaint_id, levels[complaint_id]):
            climbed[complaint_id] = level
    ComplaintEvent.objects.bulk_create(
        [ComplaintEvent(complaint_id=complaint_id, at=now, data={"target": target, "level": level},
                        kind=EventKind.ESCALATION if kind == AlertKind.ESCALATION else EventKind.WARNING)
         for complaint_id, kind, target, level in new], batch_size=5000)
    outbox.emit_many(ALERT_TOPIC, [{"complaint": complaint_id, "kind": kind, "target": target, "level": level}
                                   for complaint_id, kind, target, level in new])
    current = {c[0]: c[5] for c in complaints}
    changed = {pk: s for pk, s in states.items() if s is not None and s != current[pk]}
    with connection.cursor() as cur:  # one statement each, whatever the number of complaints
        if climbed:
            cur.execute(f"UPDATE {Complaint._meta.db_table} c SET escalation_level = v.l "
                        f"FROM unnest(%s::bigint[], %s::int[]) AS v(id, l) "
                        f"WHERE c.id = v.id AND c.escalation_level < v.l", [list(climbed), list(climbed.values())])
        if changed:
            cur.execute(f"UPDATE {Complaint._meta.db_table} c SET sla_state = v.s "
                        f"FROM unnest(%s::bigint[], %s::text[]) AS v(id, s) "
                        f"WHERE c.id = v.id AND c.sla_state IN ('on_track', 'at_risk')",
                        [list(changed), [str(s) for s in changed.values()]])
    return {"open": len(complaints), "alerts": len(new), "escalated": len(climbed)}

