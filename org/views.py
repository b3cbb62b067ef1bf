from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseServerError, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import ValidationFailed
from core.forms import add_domain_errors

from .forms import CalendarDayForm, CalendarDayRemoveForm, CalendarImportForm, LanguageForm, WorkingHoursForm
from .models import CalendarDay
from .permissions import can
from .selectors import audit_log_list, branches_visible_to, calendar_view
from .services import (
    calendar_day_remove,
    calendar_day_set,
    calendar_year_load,
    user_language_set,
    working_hours_clear,
    working_hours_set,
)


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


# ---- the working calendar --------------------------------------------------------------------------------------

def _calendar_branch(request, code: str | None):
    """The branch ``code`` names among those the viewer may pick (None: the bank's calendar); 404 for another."""
    if not code:
        return None
    branch = branches_visible_to(request.user).filter(code=code).first()
    if branch is None:
        raise Http404
    return branch


def _calendar_year(value, today) -> int:
    try:
        year = int(value) if value else today.year
    except ValueError:
        raise Http404 from None
    if not 1990 <= year <= 2100:
        raise Http404
    return year


def _calendar_back(year: int, branch) -> str:
    query = {"year": year, **({"branch": branch.code} if branch else {})}
    return f"{reverse('calendar')}?{urlencode(query)}"


@login_required
def calendar(request):
    """The working calendar of the bank or of a branch for a year; head office edits it here."""
    if not can(request.user, "org.view_calendar"):
        raise Http404
    today = timezone.localdate()
    source = request.POST if request.method == "POST" else request.GET
    year = _calendar_year(source.get("year"), today)
    default = None if can(request.user, "org.change_calendar") else request.user.branch
    branch = _calendar_branch(request, source.get("branch")) if "branch" in source else default
    editable = can(request.user, "org.change_calendar")
    view = calendar_view(year=year, branch=branch, today=today)
    day_form, hours_form, import_form = (
        CalendarDayForm(prefix="day"),
        WorkingHoursForm(prefix="hours", initial_week=view.week),
        CalendarImportForm(prefix="import", initial={"year": year}))
    status = 200
    if request.method == "POST":
        if not editable:
            raise PermissionDenied
        action = request.POST.get("action")
        try:
            if action == "day":
                day_form = CalendarDayForm(request.POST, prefix="day")
                if day_form.is_valid():
                    d = day_form.cleaned_data
                    calendar_day_set(day=d["day"], kind=d["kind"], name=d["name"], branch=branch, actor=request.user)
                    messages.success(request, _("%(day)s saved.") % {"day": d["day"].isoformat()})
                    return redirect(_calendar_back(d["day"].year, branch))
            elif action == "hours":
                hours_form = WorkingHoursForm(request.POST, prefix="hours")
                if hours_form.is_valid():
                    if branch is None:
                        raise ValidationFailed(_("Working hours belong to a branch: choose head office or a branch."))
                    working_hours_set(branch=branch, week=hours_form.cleaned_data["week"], actor=request.user)
                    messages.success(request, _("Working hours saved."))
                    return redirect(_calendar_back(year, branch))
            elif action == "hours_clear" and branch is not None:
                working_hours_clear(branch=branch, actor=request.user)
                messages.success(request, _("Working hours are inherited again."))
                return redirect(_calendar_back(year, branch))
            elif action == "import":
                import_form = CalendarImportForm(request.POST, request.FILES, prefix="import")
                if import_form.is_valid():
                    d = import_form.cleaned_data
                    counts = calendar_year_load(year=d["year"], rows=d["file"], actor=request.user)
                    messages.success(request, _(
                        "%(year)s loaded: %(off)s days off, %(work)s make-up working days.") % {
                        "year": counts["year"], "off": counts["days_off"], "work": counts["workdays"]})
                    return redirect(_calendar_back(d["year"], branch))
            else:
                raise Http404
        except ValidationFailed as refused:
            form = {"day": day_form, "hours": hours_form, "import": import_form}[action]
            add_domain_errors(form, refused)  # beside their fields; "week" above the form
        status = 400
    return render(request, "org/calendar.html", {
        "view": view, "editable": editable, "branches": branches_visible_to(request.user).order_by("path"),
        "day_form": day_form, "hours_form": hours_form, "import_form": import_form,
        "years": range(max(1990, today.year - 3), min(2100, today.year + 3) + 1)}, status=status)


@login_required
def calendar_day_remove_view(request):
    """Remove a day of the bank's or a branch's calendar: a confirmation page (GET), then the service (POST)."""
    if not can(request.user, "org.change_calendar"):
        raise Http404
    source = request.POST if request.method == "POST" else request.GET
    form = CalendarDayRemoveForm(source)
    if not form.is_valid():
        raise Http404
    branch = _calendar_branch(request, source.get("branch"))
    day = form.cleaned_data["day"]
    entry = CalendarDay.objects.filter(branch=branch, day=day).first()
    if entry is None:
        raise Http404
    if request.method == "POST":
        calendar_day_remove(day=day, branch=branch, actor=request.user)
        messages.success(request, _("%(day)s removed.") % {"day": day.isoformat()})
        return redirect(_calendar_back(day.year, branch))
    return render(request, "org/calendar_day_remove.html", {"entry": entry, "branch": branch,
                                                            "back": _calendar_back(day.year, branch)})
