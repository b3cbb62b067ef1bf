"""Request and response guards: NUL characters refused, no caching of personal data.

RejectNulMiddleware refuses a NUL character in the query string, the path or a header with a 400, before
anything reads them.

PostgreSQL cannot store or compare text holding NUL ("A string literal cannot contain NUL (0x00)
characters"): a search for ``q=%00``, a session cookie or an ``Idempotency-Key`` with one would reach a
query and end in a 500. Form and JSON bodies are checked field by field where they are parsed (Django's
and DRF's CharField reject NUL with a field error); the bulk pipeline rejects the record.
Placed before the session middleware, which looks up the cookie's session key in the database.
"""

from django.http import JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _


def _with_nul(request):
    """The name of the first parameter, path or header holding a NUL character, or None."""
    if "\x00" in request.path_info:
        return "path"
    if "\x00" in request.META.get("QUERY_STRING", "") or "%00" in request.META.get("QUERY_STRING", ""):
        for key, values in request.GET.lists():
            if "\x00" in key or any("\x00" in v for v in values):
                return key.replace("\x00", "")
    for key, value in request.META.items():
        if key.startswith("HTTP_") and isinstance(value, str) and "\x00" in value:
            return key[5:].replace("_", "-").title()
    return None


class RejectNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = _with_nul(request)
        if name is None:
            return self.get_response(request)
        with translation.override(translation.get_language_from_request(request)):
            message = _("Null characters are not allowed.")
            if request.path_info.startswith("/api/"):
                return JsonResponse({"code": "validation_error", "detail": _("Some fields are not valid."),
                                     "errors": {name: [message]}}, status=400)
            return render(request, "errors/error.html", {"status": 400, "message": message}, status=400)


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
