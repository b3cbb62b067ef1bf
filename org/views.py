from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseServerError, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .forms import LanguageForm
from .permissions import can
from .selectors import audit_log_list
from .services import user_language_set


@require_POST
def language_set(request):
    """Switch the interface language; remembered on the user (and in a cookie before sign-in)."""
    form = LanguageForm(request.POST)
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    response = redirect(target)
    if form.is_valid():
        language = form.cleaned_data["language"]
        if request.user.is_authenticated:
            user_language_set(user=request.user, language=language)
        translation.activate(language)
        response.set_cookie("django_language", language, samesite="Lax")
    return response


@login_required
def audit_log(request):
    """Head office: who revealed which sensitive value, and what each API key did."""
    if not can(request.user, "org.view_audit"):
        raise PermissionDenied
    log = audit_log_list(request.GET)
    return render(request, "org/audit_log.html", {"page": log.page, "tab": log.tab, "filter": log.filter,
                                                  "query": log.query})


def _api_error(request, status, code, detail):
    """Errors under /api/ keep the API's one error format even when raised outside DRF."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": code, "detail": str(detail), "errors": {}}, status=status)
    return None


def _error_page(request, status, code, message):
    return _api_error(request, status, code, message) or render(
        request, "errors/error.html", {"status": status, "message": message}, status=status)


def error_403(request, exception=None):
    return _error_page(request, 403, "permission_denied", _("You are not allowed to do this."))


def error_404(request, exception=None):
    return _error_page(request, 404, "not_found", _("This page does not exist, or you may not see it."))


def error_500(request):
    """The app's own 500 page, rendered without the request's context (no user, session or database)."""
    message = _("Something went wrong on our side. The error has been logged.")
    return _api_error(request, 500, "server_error", message) or HttpResponseServerError(
        loader.render_to_string("500.html", {"message": message}))
