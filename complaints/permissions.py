"""What each role may do with complaints (django-rules), used by pages, the API and the services alike. Which
complaints an actor sees, and whose complainants' data, is ``org.access``'s (``complaint_scope_of``,
``sees_complainant``); object predicates assume the complaint was fetched through ``complaints.selectors``.

- read: complaint officers, supervisors, head office, RMs (their customers' complaints), keys with complaints:read;
- record a complaint: the same staff, keys with complaints:write;
- work on one (status, messages, holds, extensions asked, satisfaction): supervisors and head office; a complaint
  officer on the complaints they handle; keys with complaints:write;
- internal notes: every member of staff who sees the complaint, keys with complaints:write;
- assign a handler: supervisors, head office, keys with complaints:write; an officer takes an unassigned one;
- the supervisor board and the regulator's export: supervisors and head office;
- SLA policies and the taxonomy: head office (everyone who works on complaints reads them).
"""

import rules

from org.access import is_complaint_officer, is_head_office, is_rm, is_supervisor, key_has_scope
from org.constants import Scope


@rules.predicate
def key_reads_complaints(actor):
    return key_has_scope(actor, Scope.COMPLAINTS_READ) or key_has_scope(actor, Scope.COMPLAINTS_WRITE)


@rules.predicate
def key_writes_complaints(actor):
    return key_has_scope(actor, Scope.COMPLAINTS_WRITE)


@rules.predicate
def handles(actor, complaint):
    return complaint is not None and complaint.handler_id is not None and complaint.handler_id == actor.pk


@rules.predicate
def unassigned(actor, complaint):
    return complaint is not None and complaint.handler_id is None


is_complaint_staff = is_complaint_officer | is_supervisor | is_head_office
is_overseer = is_supervisor | is_head_office

rules.add_perm("complaints.view_complaint", is_complaint_staff | is_rm | key_reads_complaints)
rules.add_perm("complaints.add_complaint", is_complaint_staff | is_rm | key_writes_complaints)
rules.add_perm("complaints.work_complaint", is_overseer | key_writes_complaints | (is_complaint_officer & handles))
rules.add_perm("complaints.note_complaint", is_complaint_staff | is_rm | key_writes_complaints)
rules.add_perm("complaints.assign_complaint", is_overseer | key_writes_complaints)
rules.add_perm("complaints.take_complaint", is_complaint_officer & unassigned)
rules.add_perm("complaints.decide_extension", is_overseer)
rules.add_perm("complaints.view_board", is_overseer)
rules.add_perm("complaints.export_complaints", is_overseer)
rules.add_perm("complaints.view_settings", is_complaint_staff | key_reads_complaints)
rules.add_perm("complaints.change_settings", is_head_office)
