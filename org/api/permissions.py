from django.utils.translation import gettext_lazy as _
from rest_framework import permissions

from org.access import is_api_client, is_staff_user


class IsStaffUserOrApiKey(permissions.BasePermission):
    """A signed-in, active member of staff, or an API key holding the scope the view asks for.

    Views name scopes per action in ``required_scopes`` (e.g. ``{"list": "customers:read"}``);
    an action without an entry is closed to API keys.
    """

    message = _("This API key lacks the scope for this operation.")

    def has_permission(self, request, view):
        user = request.user
        if is_api_client(user):
            action = getattr(view, "action", None) or request.method.lower()
            scope = getattr(view, "required_scopes", {}).get(action)
            return bool(scope) and user.has_scope(scope)
        return is_staff_user(user)
