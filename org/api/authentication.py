from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from org.models import ApiKey

KEYWORD = "Api-Key"


class ApiClient:
    """The principal of a request made with an API key (a machine, never a human login)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_superuser = False
    role = None
    pk = None
    id = None
    branch_id = None

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key
        self.branch_id = api_key.branch_id
        self.branch = api_key.branch

    def __str__(self):
        return f"api-key:{self.api_key.name}"

    def has_scope(self, scope: str) -> bool:
        return self.api_key.has_scope(scope)


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


def caller_name(request) -> str:
    """The caller of an API request, short and stable (an Idempotency-Key's owner): "key:<prefix>" for an API
    key (its pk is "<prefix>.<hash>", too long; the prefix is unique), "user:<id>" for a signed-in user."""
    user = request.user
    return f"key:{user.api_key.prefix}" if isinstance(user, ApiClient) else f"user:{user.pk}"
