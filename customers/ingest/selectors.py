"""Reads of the file import: finished read models of import jobs (labelled, masked), so the pages only render."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext as _

from core.pagination import CappedPaginator
from customers.models import Customer, FinancialSnapshot, Holding, ImportJob, ImportKind

from .changes import CHANGES_SHOWN, IDENTITY_FIELDS

JOBS_PER_PAGE = 20


@dataclass(frozen=True)
class ImportJobRow:
    """One line of the list of imports."""

    pk: int
    created_at: datetime
    kind_label: str
    original_name: str
    dry_run: bool
    uploaded_by: str
    status: str
    status_label: str
    created: int
    updated: int
    unchanged: int
    rejected: int


def import_job_page(*, page_number=None, per_page: int = JOBS_PER_PAGE):
    """A page of the import jobs, newest first; ``page.object_list`` holds ``ImportJobRow``s."""
    jobs = ImportJob.objects.select_related("uploaded_by").order_by("-created_at", "-id")
    page = CappedPaginator(jobs, per_page).get_page(page_number)
    page.object_list = [ImportJobRow(
        pk=j.pk, created_at=j.created_at, kind_label=str(j.get_kind_display()), original_name=j.original_name,
        dry_run=j.dry_run, uploaded_by=j.uploaded_by.display_name, status=j.status,
        status_label=str(j.get_status_display()), created=j.created, updated=j.updated, unchanged=j.unchanged,
        rejected=j.rejected) for j in page.object_list]
    return page


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
                 "changes": [{"label": label(f), "identity": f in IDENTITY_FIELDS,
                              "old": _shown(job.kind, f, old), "new": _shown(job.kind, f, new)}
                             for f, old, new in r["changes"]]} for r in rows]

    return {"records": summary["records"], "identity_records": summary["identity_records"],
            "fields": [{"label": label(f), "count": n, "identity": f in IDENTITY_FIELDS}
                       for f, n in summary["fields"].items()],
            "examples": records(summary.get("examples", [])),
            "identity_examples": records(summary.get("identity_examples", []))}


def import_job_detail(pk: int) -> dict | None:
    """A job with what its page shows: the import that applied it (a preview), its first rejected records with the
    fields' labels, and what it would change (labelled, values as the user reads them). None if there is no such
    job."""
    job = ImportJob.objects.select_related("uploaded_by", "preview_of").filter(pk=pk).first()
    if job is None:
        return None
    applied = job.applied_by.order_by("id").first() if job.dry_run else None
    errors_preview = [{**e, "label": _field_label(job.kind, e.get("field", ""))} for e in job.errors_preview]
    return {"job": job, "applied": applied, "errors_preview": errors_preview, "changes": _changes_context(job),
            "shown": CHANGES_SHOWN}
