"""Who may manage the organisation (django-rules): branches, staff, API keys and the audit log are head office's.

The admin asks these through ``user.has_perm`` (the rules backend answers), so a member of staff with
admin access but another role sees none of it. Pages and services ask ``can``, which also answers for
API-key principals (not Django users).
"""

import rules
from django.core.exceptions import PermissionDenied

from .access import is_head_office, is_staff_user

ORG_ADMIN_PERMS = (
    "org.view_branch", "org.add_branch", "org.change_branch",
    "org.view_user", "org.add_user", "org.change_user",
    "org.view_apikey", "org.add_apikey", "org.change_apikey",
    "org.view_apikeyuse", "org.view_piiaccesslog", "core.view_auditevent", "core.view_outboxmessage",
)
for _perm in ORG_ADMIN_PERMS:
    rules.add_perm(_perm, is_head_office)
rules.add_perm("org.view_audit", is_head_office)
# The working calendar: every member of staff reads it (deadlines follow it); head office changes it.
rules.add_perm("org.view_calendar", is_staff_user)
rules.add_perm("org.change_calendar", is_head_office)


def can(actor, perm: str, obj=None) -> bool:
    """Whether ``actor`` (a member of staff or an ``ApiClient``) holds ``perm`` (on ``obj``)."""
    return rules.has_perm(perm, actor, obj)


def require(actor, perm: str, obj=None) -> None:
    """A page's guard: ``PermissionDenied`` (the 403 page) unless ``actor`` holds ``perm`` (on ``obj``)."""
    if not can(actor, perm, obj):
        raise PermissionDenied
