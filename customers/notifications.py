"""Mail the customer book sends, through the outbox: whoever uploaded an import file hears when its preview or
import has finished (or failed), with a link to the job's page.

``import_finished`` runs in the transaction that records the job's final status; the mail itself is sent by
the outbox worker after that commits (``core.outbox``), in the uploader's language.
"""

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from core import outbox

from .models import ImportJob, ImportStatus

IMPORT_FINISHED = "import_job.finished"


def import_finished(job: ImportJob) -> None:
    """Queue the mail about a job that has just finished, in the caller's transaction."""
    outbox.emit(IMPORT_FINISHED, {"job_id": job.pk})


@outbox.handler(IMPORT_FINISHED)
def import_finished_send(payload: dict) -> None:
    """Mail the uploader; nothing to do when the job is gone or the uploader has no address."""
    job = ImportJob.objects.select_related("uploaded_by").filter(pk=payload["job_id"]).first()
    if job is None or not job.uploaded_by.email:
        return
    with translation.override(job.uploaded_by.language or settings.LANGUAGE_CODE):
        subject, body = _import_mail(job)
    send_mail(subject, body, None, [job.uploaded_by.email])


def _import_mail(job: ImportJob) -> tuple[str, str]:
    names = {"file": job.original_name}
    failed = job.status == ImportStatus.FAILED
    if job.dry_run:
        subject = (_("The preview of %(file)s failed") if failed else _("The preview of %(file)s is ready")) % names
    else:
        subject = (_("The import of %(file)s failed") if failed else _("The import of %(file)s has finished")) % names
    counts = {"rows": job.rows_done, "created": job.created, "updated": job.updated, "unchanged": job.unchanged,
              "rejected": job.rejected}
    if failed:
        summary = job.error
    elif job.dry_run:
        summary = _("%(rows)d rows checked: %(created)d would be created, %(updated)d updated, %(unchanged)d "
                    "unchanged and %(rejected)d rejected. Nothing has been written yet: apply the preview on its "
                    "page.") % counts
    else:
        summary = _("%(rows)d rows read: %(created)d records created, %(updated)d updated, %(unchanged)d "
                    "unchanged and %(rejected)d rejected.") % counts
    link = settings.CRM_SITE_URL + reverse("customers:import-job", args=[job.pk])
    body = "\n\n".join([
        _("Hello %(name)s,") % {"name": job.uploaded_by},
        summary,
        _("Details and the rejected rows: %(link)s") % {"link": link},
    ])
    return subject, body + "\n"
