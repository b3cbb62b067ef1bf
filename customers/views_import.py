"""Pages of the file import (head office only): upload → dry-run preview → apply → progress and result."""

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.pagination import CappedPaginator

from . import import_jobs, importing
from .forms_import import ImportUploadForm
from .models import Customer, FinancialSnapshot, Holding, ImportJob, ImportKind
from .permissions import can

JOBS_PER_PAGE = 20


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
            job = import_jobs.import_job_create(actor=request.user, kind=form.cleaned_data["kind"],
                                                upload=form.cleaned_data["file"], dry_run=True)
        except DomainError as e:
            for field, msgs in (e.fields or {None: [e.message]}).items():
                for msg in msgs:
                    form.add_error(field if field in form.fields else None, msg)
        else:
            # Checking a file reads all of it: never in the request (issue 9 item 4), always in a worker; the job
            # page polls until it is done.
            import_jobs.import_job_enqueue(job)
            return redirect("customers:import-job", pk=job.pk)
    jobs = ImportJob.objects.select_related("uploaded_by").order_by("-created_at", "-id")
    page = CappedPaginator(jobs, JOBS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "customers/import/index.html", {"form": form, "jobs": page.object_list, "page": page})


_KIND_MODELS = {ImportKind.CUSTOMERS: Customer, ImportKind.SNAPSHOTS: FinancialSnapshot, ImportKind.HOLDINGS: Holding}


def _field_label(kind: str, name: str) -> str:
    """The field's name in the user's language (the report keeps the API field name, as the files may use it)."""
    if name == "non_field_errors":
        return _("the whole row")
    for model in (_KIND_MODELS.get(kind), Customer):
        try:
            return str(model._meta.get_field(name).verbose_name)
        except (FieldDoesNotExist, AttributeError):
            continue
    return name


def _shown(kind: str, name: str, value):
    """A value of the change summary as the user reads it: choice labels, yes/no (values were masked, cut and given
    names for branches and RMs when the summary was made)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    try:
        model_field = _KIND_MODELS.get(kind, Customer)._meta.get_field(name)
    except FieldDoesNotExist:
        return value
    if model_field.choices:
        return dict(model_field.flatchoices).get(value, value)
    return value


def _changes_context(job: ImportJob) -> dict | None:
    summary = job.changes_preview
    if not summary or not summary.get("records"):
        return None

    def label(name):
        return _field_label(job.kind, name.removesuffix("_id") if name in ("branch_id", "rm_id") else name)

    def records(rows):
        return [{"cif": r["cif"], "identity": r["identity"],
                 "changes": [{"label": label(f), "identity": f in importing.IDENTITY_FIELDS,
                              "old": _shown(job.kind, f, old), "new": _shown(job.kind, f, new)}
                             for f, old, new in r["changes"]]} for r in rows]

    return {"records": summary["records"], "identity_records": summary["identity_records"],
            "fields": [{"label": label(f), "count": n, "identity": f in importing.IDENTITY_FIELDS}
                       for f, n in summary["fields"].items()],
            "examples": records(summary.get("examples", [])),
            "identity_examples": records(summary.get("identity_examples", []))}


@login_required
def import_job_detail(request, pk):
    """A job's progress (polled with htmx while it runs) and its result."""
    _require_import_access(request)
    job = get_object_or_404(ImportJob.objects.select_related("uploaded_by", "preview_of"), pk=pk)
    applied = job.applied_by.order_by("id").first() if job.dry_run else None
    errors_preview = [{**e, "label": _field_label(job.kind, e.get("field", ""))} for e in job.errors_preview]
    context = {"job": job, "applied": applied, "errors_preview": errors_preview, "changes": _changes_context(job),
               "shown": importing.CHANGES_SHOWN}
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
        job = import_jobs.import_job_apply(actor=request.user, preview=preview)
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
