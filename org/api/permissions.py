from django.utils.translation import gettext_lazy as _
from rest_framework import permissions

from org.api.authentication import ApiClient


class IsStaffUserOrApiKey(permissions.BasePermission):
    """A signed-in, active member of staff, or an API key holding the scope the view asks for.

    Views name scopes per action in ``required_scopes`` (e.g. ``{"list": "customers:read"}``);
    an action without an entry is closed to API keys.
    """

    message = _("This API key lacks the scope for this operation.")

    def has_permission(self, request, view):
        user = request.user
        if isinstance(user, ApiClient):
            action = getattr(view, "action", None) or request.method.lower()
            scope = getattr(view, "required_scopes", {}).get(action)
            return bool(scope) and user.has_scope(scope)
        return bool(user and user.is_authenticated and user.is_active)
