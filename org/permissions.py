"""Who may manage the organisation (django-rules): branches, staff and API keys are head office's.

The admin asks these through ``user.has_perm`` (the rules backend answers), so a member of staff with
admin access but another role sees none of it.
"""

import rules

from .constants import Role


@rules.predicate
def is_head_office(user):
    return bool(getattr(user, "is_active", False)) and (
        getattr(user, "role", None) == Role.HEAD_OFFICE or getattr(user, "is_superuser", False))


ORG_ADMIN_PERMS = (
    "org.view_branch", "org.add_branch", "org.change_branch",
    "org.view_user", "org.add_user", "org.change_user",
    "org.view_apikey", "org.add_apikey", "org.change_apikey",
    "org.view_apikeyuse", "org.view_piiaccesslog", "core.view_auditevent", "core.view_outboxmessage",
)
for _perm in ORG_ADMIN_PERMS:
    rules.add_perm(_perm, is_head_office)
