from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from org.access import ApiClient
from org.models import ApiKey

KEYWORD = "Api-Key"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Api-Key <key>``: hashed, expiring, revocable keys."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.startswith(KEYWORD + " "):
            return None
        key = header[len(KEYWORD) + 1:].strip()
        try:
            api_key = ApiKey.objects.get_from_key(key)  # a manager method: a QuerySet has no get_from_key
        except ApiKey.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Unknown API key.")) from None
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed(_("This API key has expired."))
        if api_key.revoked:
            raise exceptions.AuthenticationFailed(_("This API key has been revoked."))
        request._request.api_key = api_key  # read by ApiKeyUseMiddleware
        return ApiClient(api_key), api_key

    def authenticate_header(self, request):
        return KEYWORD

