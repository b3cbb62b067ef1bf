"""Pages of the file import (head office only): upload → dry-run preview → apply → progress and result."""

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import DomainError
from customers.models import ImportJob
from org.permissions import can

from . import jobs, selectors
from .forms import ImportUploadForm


def _require_import_access(request):
    if not can(request.user, "customers.import_files"):
        raise PermissionDenied


@login_required
def import_index(request):
    """The upload form and the recent jobs."""
    _require_import_access(request)
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = jobs.import_job_create(actor=request.user, kind=form.cleaned_data["kind"],
                                                upload=form.cleaned_data["file"], dry_run=True)
        except DomainError as e:
            for field, msgs in (e.fields or {None: [e.message]}).items():
                for msg in msgs:
                    form.add_error(field if field in form.fields else None, msg)
        else:
            # Checking a file reads all of it: never in the request (issue 9 item 4), always in a worker; the job
            # page polls until it is done.
            jobs.import_job_enqueue(job)
            return redirect("customers:import-job", pk=job.pk)
    page = selectors.import_job_page(page_number=request.GET.get("page"))
    return render(request, "customers/import/index.html", {"form": form, "jobs": page.object_list, "page": page})


@login_required
def import_job_detail(request, pk):
    """A job's progress (polled with htmx while it runs) and its result."""
    _require_import_access(request)
    context = selectors.import_job_detail(pk)
    if context is None:
        raise Http404
    if request.htmx and not request.htmx.boosted:
        return render(request, "customers/import/_job_status.html", context)
    return render(request, "customers/import/job.html", context)


@login_required
@require_POST
def import_job_apply(request, pk):
    """Import for real the file of a finished dry run (once; a second click shows the same job)."""
    _require_import_access(request)
    preview = get_object_or_404(ImportJob, pk=pk)
    try:
        job = jobs.import_job_apply(actor=request.user, preview=preview)
    except DomainError as e:
        messages.error(request, str(e.message))
        return redirect("customers:import-job", pk=preview.pk)
    messages.success(request, _("The import has started."))
    return redirect("customers:import-job", pk=job.pk)


@login_required
def import_job_rejects(request, pk):
    """The rejected rows of a job as CSV (line, key, field, reason)."""
    _require_import_access(request)
    job = get_object_or_404(ImportJob, pk=pk)
    if not job.rejects_file:
        raise Http404
    try:
        handle = job.rejects_file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    name = f"{Path(job.original_name).stem}-rejected.csv"
    return FileResponse(handle, as_attachment=True, filename=name, content_type="text/csv; charset=utf-8")
