"""Pure rules of complaints (DOMAIN.md §4): the workflow as one transition table, what closing needs, the major
complaint, the regulator's clock with its extensions, the bank's service clock (used time, due time, state) over
the intervals it ran, warnings and the escalation ladder, the choice of an SLA policy and its checks.

No ORM, no settings, no clock: instants are epoch seconds (``org.rules.epoch``), ``now`` is a parameter, business
time comes from an ``org.rules.BusinessClock`` built by the caller for the complaint's branch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from org.rules import BusinessClock, WorkingCalendar, regulatory_due

from .constants import Action, Channel, ClockMode, EscalationLevel, SlaState, Status

# ---- workflow ------------------------------------------------------------------------------------------------------

S, A = Status, Action
TRANSITIONS: dict[tuple[str, str], str] = {
    (S.NEW, A.ACKNOWLEDGE): S.ACKNOWLEDGED,
    (S.NEW, A.INVESTIGATE): S.INVESTIGATING,
    (S.ACKNOWLEDGED, A.INVESTIGATE): S.INVESTIGATING,
    (S.ACKNOWLEDGED, A.WAIT_CUSTOMER): S.PENDING_CUSTOMER,
    (S.ACKNOWLEDGED, A.RESOLVE): S.RESOLVED,
    (S.INVESTIGATING, A.WAIT_CUSTOMER): S.PENDING_CUSTOMER,
    (S.INVESTIGATING, A.RESOLVE): S.RESOLVED,
    (S.PENDING_CUSTOMER, A.RESUME): S.INVESTIGATING,
    (S.PENDING_CUSTOMER, A.RESOLVE): S.RESOLVED,
    (S.RESOLVED, A.CLOSE): S.CLOSED,
    (S.RESOLVED, A.REOPEN): S.INVESTIGATING,
    (S.CLOSED, A.REOPEN): S.INVESTIGATING,
    **{(status, A.WITHDRAW): S.WITHDRAWN
       for status in (S.NEW, S.ACKNOWLEDGED, S.INVESTIGATING, S.PENDING_CUSTOMER, S.RESOLVED)},
}
OPEN = frozenset({S.NEW, S.ACKNOWLEDGED, S.INVESTIGATING, S.PENDING_CUSTOMER})  # both clocks may run
PAUSED = frozenset({S.PENDING_CUSTOMER})  # the service clock holds; the regulator's does not


def next_status(status: str, action: str) -> str | None:
    """The status ``action`` leads to from ``status``; None when the table does not allow it."""
    return TRANSITIONS.get((status, action))


def allowed_actions(status: str) -> list[str]:
    return [action for (source, action) in TRANSITIONS if source == status]


SUMMARY, ROOT_CAUSE, REMEDY, REMEDIES_TOLD = "resolution_summary", "root_cause", "remedy", "remedies_told"


def close_problems(*, resolution_summary: str, root_cause: str, remedy: str, remedies_told: bool) -> list[str]:
    """What closing still needs: the resolution summary, a root-cause code, the remedy, and the record that the
    customer was told of further remedies (re-check, mediation, arbitration, litigation; Art. 19)."""
    missing = [name for name, value in ((SUMMARY, resolution_summary), (ROOT_CAUSE, root_cause), (REMEDY, remedy))
               if not (value or "").strip()]
    return missing + ([] if remedies_told else [REMEDIES_TOLD])


MAJOR_COMPLAINANTS = 20  # Art. 29: raised in person by 20 or more people


def is_major(complainants: int, channel: str) -> bool:
    """A complaint raised in person (at the counter) by 20 or more people: urgent, escalated at once."""
    return channel == Channel.COUNTER and complainants >= MAJOR_COMPLAINANTS


def initial_escalation(major: bool) -> int:
    return EscalationLevel.HEAD_OFFICE if major else EscalationLevel.HANDLER


# ---- the regulator's clock ---------------------------------------------------------------------------------------

REGULATORY_DAYS = (15, 30, 60)  # Art. 18: 15 days; extended to 30; a further 30 (60 in all)
REVIEW_DAYS = 30  # Art. 19/20: a re-check is requested within 30 days of the decision and answered within 30


def regulatory_due_date(received: dt.date, calendar: WorkingCalendar, *, extensions: int = 0, paused_days: int = 0,
                        roll_forward: bool = True, review: bool = False) -> dt.date:
    """The decision's last day: 15 calendar days after the day of receipt (that day not counted), 30 after one
    extension, 60 after two — a re-check (``review``) is answered within 30 days; the days an external appraisal or
    mediation held it added; a last day that is not a working day rolled to the next working day (a setting)."""
    base = REVIEW_DAYS if review else REGULATORY_DAYS[min(max(extensions, 0), len(REGULATORY_DAYS) - 1)]
    days = base + max(paused_days, 0)
    return regulatory_due(received, days, calendar, roll_forward=roll_forward)


def may_approve_extension(number: int, *, head_office: bool, approver_path: str | None,
                          complaint_path: str) -> bool:
    """Who approves the ``number``-th extension (Art. 18): the first, a supervisor of the complaint's branch or of
    a branch above it; the second, the superior branch (a supervisor of a branch strictly above it) or head
    office. Paths are the branches' materialised paths ("/HO/BJ/BJ01/")."""
    if head_office:
        return True
    if not approver_path or not complaint_path.startswith(approver_path):
        return False
    return number == 1 or approver_path != complaint_path


def review_window_open(decided: dt.date, requested: dt.date) -> bool:
    """A re-check request counts within 30 days of the decision."""
    return decided <= requested <= decided + dt.timedelta(days=REVIEW_DAYS)


def satisfaction_call_due(decided: dt.date, days: int) -> dt.date:
    """The day the RM's satisfaction call after a resolved complaint is due: ``days`` calendar days after the
    decision (0: the same day; a negative setting counts as 0, never a task due before the decision)."""
    return decided + dt.timedelta(days=max(days, 0))


# ---- the service clock ---------------------------------------------------------------------------------------------

WARNINGS = (0.75, 0.9)  # shares of the allowed time at which the handler is warned
LADDER = (1.0, 1.25, 1.5)  # shares beyond which the complaint climbs to supervisor, superior branch, head office


@dataclass(frozen=True)
class Clock:
    used: int  # seconds counted (business or calendar)
    target: int
    due: int | None  # epoch seconds the target is reached at if the clock keeps running; None while held or met
    state: str  # SlaState
    share: float  # used / target

    @property
    def remaining(self) -> int:
        return self.target - self.used


def _seconds(start: int, end: int, mode: str, clock: BusinessClock | None) -> int:
    if end <= start:
        return 0
    if mode == ClockMode.BUSINESS:
        return int(clock.business_seconds(start, end))
    return end - start


def used_seconds(runs: Sequence[tuple[int, int | None]], mode: str, clock: BusinessClock | None, *, now: int) -> int:
    """Seconds counted over the intervals the clock ran (an open interval runs until ``now``)."""
    return sum(_seconds(start, end if end is not None else now, mode, clock) for start, end in runs)


def due_at(start: int, seconds: int, mode: str, clock: BusinessClock | None) -> int:
    """The instant ``seconds`` of counted time after ``start``."""
    if mode == ClockMode.BUSINESS:
        return int(clock.after(start, seconds))
    return start + seconds


def service_clock(runs: Sequence[tuple[int, int | None]], *, target: int, mode: str, clock: BusinessClock | None,
                  now: int, met_at: int | None = None, warn_at: float = WARNINGS[0]) -> Clock:
    """The state of one target of the service clock. ``runs``: the intervals (epoch seconds) the clock ran, in
    order, the last one open while it runs (a pause closes it, resuming opens a new one; a changed policy or priority keeps them, so
    the time used stays used). ``met_at``: when the target was met (first response: a reply; resolution: resolved).
    Met within the target → met; counted beyond it → breached (for good); held → paused; running → at risk from
    ``warn_at`` of the target, else on track, with the due instant."""
    until = met_at if met_at is not None else now
    clipped = [(s, min(e, until) if e is not None else until) for s, e in runs if s < until]
    used = used_seconds(clipped, mode, clock, now=until)
    share = used / target if target > 0 else 1.0
    if met_at is not None:
        return Clock(used=used, target=target, due=None, state=SlaState.MET if used <= target else SlaState.BREACHED,
                     share=share)
    if used > target:  # at the due instant itself the target is still met
        return Clock(used=used, target=target, due=None, state=SlaState.BREACHED, share=share)
    running = bool(runs) and runs[-1][1] is None
    if not running:
        return Clock(used=used, target=target, due=None, state=SlaState.PAUSED, share=share)
    start = runs[-1][0]
    before = used - _seconds(start, now, mode, clock)
    due = due_at(start, target - before, mode, clock)
    state = SlaState.AT_RISK if share >= warn_at else SlaState.ON_TRACK
    return Clock(used=used, target=target, due=due, state=state, share=share)


def warnings_reached(share: float, thresholds: Sequence[float] = WARNINGS) -> list[int]:
    """The indexes of the warnings ``share`` of the allowed time has reached (0: at 75 %, 1: at 90 %)."""
    return [k for k, t in enumerate(thresholds) if share >= t]


def escalation_level(share: float, *, major: bool = False, ladder: Sequence[float] = LADDER) -> int:
    """The level the ladder has reached at ``share`` of the resolution target: the handler until the target is
    breached, then the branch supervisor, beyond 125 % the superior branch, beyond 150 % head office; a major
    complaint is at head office from the start."""
    level = sum(share > step for step in ladder)
    return EscalationLevel.HEAD_OFFICE if major else level


def shares(used: np.ndarray, target: np.ndarray) -> np.ndarray:
    """used / target for many complaints at once (a target of 0 counts as fully used)."""
    target = np.asarray(target, dtype=float)
    return np.where(target > 0, np.asarray(used, dtype=float) / np.where(target > 0, target, 1), 1.0)


# ---- SLA policies --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PolicyKey:
    """What an SLA policy applies to (None: any) and when it was made (newer wins a tie)."""

    id: int
    priority: str | None = None
    channel: str | None = None
    category: int | None = None  # a category id: the category itself, or a parent of the complaint's


def choose_policy(policies: Sequence[PolicyKey], *, priority: str, channel: str, category: int | None,
                  category_parent: int | None = None) -> int | None:
    """The most specific active policy for a complaint: every criterion it sets must match (a policy for a
    category also covers its sub-categories); more criteria set is more specific, the exact category is more
    specific than its parent; then the newest (highest id). None when nothing matches (the caller's default)."""
    best, best_rank = None, None
    for p in policies:
        if p.priority is not None and p.priority != priority:
            continue
        if p.channel is not None and p.channel != channel:
            continue
        exact = p.category is not None and p.category == category
        parent = p.category is not None and category_parent is not None and p.category == category_parent
        if p.category is not None and not (exact or parent):
            continue
        rank = (sum(x is not None for x in (p.priority, p.channel, p.category)), exact, p.id)
        if best_rank is None or rank > best_rank:
            best, best_rank = p.id, rank
    return best


TARGET_NOT_POSITIVE, FIRST_AFTER_RESOLUTION = "not_positive", "first_after_resolution"


def policy_problems(*, first_response_seconds: int, resolution_seconds: int) -> dict[str, str]:
    """Field → problem: targets must be positive; the first response cannot be allowed longer than the
    resolution."""
    problems = {}
    if first_response_seconds <= 0:
        problems["first_response"] = TARGET_NOT_POSITIVE
    if resolution_seconds <= 0:
        problems["resolution"] = TARGET_NOT_POSITIVE
    if not problems and first_response_seconds > resolution_seconds:
        problems["first_response"] = FIRST_AFTER_RESOLUTION
    return problems
