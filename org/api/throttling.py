from rest_framework.throttling import SimpleRateThrottle

from org.api.authentication import ApiClient


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Per-key request rate for integration clients."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        if isinstance(request.user, ApiClient):
            return self.cache_format % {"scope": self.scope, "ident": request.user.api_key.prefix}
        return None


class StaffRateThrottle(SimpleRateThrottle):
    """Per-user rate for signed-in staff; per-IP for anonymous callers."""

    scope = "user"

    def get_cache_key(self, request, view):
        if isinstance(request.user, ApiClient):
            return None
        user = request.user
        ident = user.pk if user and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
