"""Response headers for personal data."""


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every response to a signed-in user or an API key.

    Pages and API responses of an authenticated request carry personal data (names, masked and revealed
    values, notes); no browser or proxy cache may keep them (back-button views after sign-out included).
    Static files are answered by WhiteNoise above this middleware and keep their long-lived caching. DRF
    sets ``request.user`` on the Django request when it authenticates an API key, so key calls count too.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(getattr(request, "user", None), "is_authenticated", False):
            response["Cache-Control"] = "no-store"
        return response
