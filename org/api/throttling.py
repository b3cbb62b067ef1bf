"""API rate limits, counted atomically by ``core.ratelimit`` (one counter per window: cache add + incr).

DRF's ``SimpleRateThrottle`` keeps a list of timestamps in the cache and writes it back after reading it:
parallel requests all read the same list and all pass. Here every request is one atomic increment, so
16 parallel clients together get the limit and no more. The rates stay DRF settings
(``DEFAULT_THROTTLE_RATES``: ``user`` from ``API_THROTTLE_USER``, ``api_key`` from ``API_THROTTLE_KEY``);
a refusal is DRF's ``Throttled``: 429 in the API's error format, with ``Retry-After``.
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from core.ratelimit import Rate, hit
from org.access import api_key_of, is_api_client


class AtomicRateThrottle(BaseThrottle):
    scope: str
    THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES

    def __init__(self):
        self.retry_after = None

    def get_ident_for(self, request):
        """Who is counted (None: this throttle does not apply to the request)."""
        raise NotImplementedError

    def allow_request(self, request, view):
        ident = self.get_ident_for(request)
        text = self.THROTTLE_RATES.get(self.scope)
        if ident is None or not text:
            return True
        result = hit(f"api-{self.scope}", ident, Rate.parse(text))
        self.retry_after = None if result.allowed else result.retry_after
        return result.allowed

    def wait(self):
        return self.retry_after


class ApiKeyRateThrottle(AtomicRateThrottle):
    """Per-key request rate for integration clients."""

    scope = "api_key"

    def get_ident_for(self, request):
        key = api_key_of(request.user)
        return key.prefix if key is not None else None


class StaffRateThrottle(AtomicRateThrottle):
    """Per-user rate for signed-in staff; per-IP for anonymous callers."""

    scope = "user"

    def get_ident_for(self, request):
        if is_api_client(request.user):
            return None
        user = request.user
        return user.pk if user and user.is_authenticated else f"ip:{self.get_ident(request)}"
