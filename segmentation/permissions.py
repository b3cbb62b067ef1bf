"""Who may do what in segmentation (django-rules). Roles and scopes are ``org.access``'s; which records an
actor sees is decided by ``org.access.scope_of`` in the selectors."""

import rules

from org.access import is_head_office, is_rm, is_supervisor, key_has_scope
from org.constants import Scope


@rules.predicate
def key_reads_segments(user):
    return key_has_scope(user, Scope.SEGMENTS_READ)


@rules.predicate
def key_runs_segments(user):
    return key_has_scope(user, Scope.SEGMENTS_RUN)


# Policies: head office drafts, submits and approves (never its own draft: the service checks); keys read.
rules.add_perm("segmentation.view_policy", is_head_office | key_reads_segments)
rules.add_perm("segmentation.change_policy", is_head_office)
# Runs: head office and keys with segments:run start them; head office and keys with segments:read read them.
rules.add_perm("segmentation.view_run", is_head_office | key_reads_segments)
rules.add_perm("segmentation.start_run", is_head_office | key_runs_segments)
# Assignments (tiers, history) within the actor's customer scope.
rules.add_perm("segmentation.view_assignment", is_rm | is_supervisor | is_head_office | key_reads_segments)
# The RM's lists: overdue contacts and the downgrade watch (own book; a supervisor's subtree; head office all).
rules.add_perm("segmentation.view_watch", is_rm | is_supervisor | is_head_office)
# The supervisor view (pyramid, Pareto, migration matrix, compliance): a branch subtree, head office all.
rules.add_perm("segmentation.view_supervision", is_supervisor | is_head_office)
# Overrides: supervisors within their subtree, head office.
rules.add_perm("segmentation.override_tier", is_supervisor | is_head_office)
