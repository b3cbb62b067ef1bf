"""Import jobs: an uploaded file, its dry-run preview, the real run (a Celery task), progress and result.

Progress must be visible to the page (another connection) while the import runs:

* a **real run** commits chunk by chunk (each batch's upsert is its own transaction), so the
  progress row is written between chunks on the ordinary connection, in autocommit;
* a **dry run** keeps the whole file in one transaction that is rolled back at the end, so progress
  written on that connection would be invisible until the end and then rolled back: it goes through a
  second, autocommit connection of its own (``core.jobs.Heartbeat``). The job row is never locked by the
  import's transaction (the job is claimed and finished outside it), so the two connections cannot wait on
  each other.

Running a job twice is safe: a job holds a PostgreSQL advisory lock (per session, so released even if
the worker dies) while it runs; a second delivery of the task while it runs returns at once, a done or
failed job is not run again, and a job left "running" by a dead worker and delivered again is run again
from the start (the upserts are keyed, so what was already applied comes back as unchanged).

No job stays "running" forever: the worker writes a heartbeat with every progress update, and a beat task
(``import_jobs_sweep``, every 5 minutes) marks failed, with the time the worker stopped responding, every
started job without a heartbeat for ``CRM_IMPORT_HEARTBEAT_TIMEOUT_MINUTES`` (a killed worker, a lost
database connection). Previews run here too, never in the web request: reading a file is unbounded work.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core import jobs
from core.errors import Conflict, NotPermitted, ValidationFailed
from customers import notifications
from customers.models import ImportJob, ImportStatus
from org.permissions import can

from .files import CHUNK_SIZE, EXTENSIONS, open_table
from .importer import import_file
from .initial_load import InitialLoadFailed
from .kinds import KINDS

logger = logging.getLogger(__name__)

_LOCK_NAMESPACE = 0x1A0B  # first key of pg_advisory_lock(int, int): import jobs


def upload_limit_bytes() -> int:
    return getattr(settings, "CRM_IMPORT_MAX_UPLOAD_MB", 300) * 1024 * 1024


def heartbeat_timeout() -> timedelta:
    """A running job whose worker gave no sign of life for this long is marked failed by the sweeper."""
    return timedelta(minutes=getattr(settings, "CRM_IMPORT_HEARTBEAT_TIMEOUT_MINUTES", 10))


def chunk_size() -> int:
    return getattr(settings, "CRM_IMPORT_CHUNK_SIZE", CHUNK_SIZE)


def file_retention() -> timedelta:
    return timedelta(days=getattr(settings, "CRM_IMPORT_FILE_RETENTION_DAYS", 30))


def import_job_create(*, actor, kind: str, upload, dry_run: bool = True) -> ImportJob:
    """Store an uploaded file under MEDIA_ROOT/imports/ and create its (pending) job."""
    if not can(actor, "customers.import_files"):
        raise NotPermitted()
    suffix = Path(upload.name or "").suffix.lower()
    if kind not in KINDS:
        raise ValidationFailed(fields={"kind": [_("Choose what the file holds.")]})
    if suffix not in EXTENSIONS:
        raise ValidationFailed(fields={"file": [_("Upload a .csv or .xlsx file.")]})
    job = ImportJob(kind=kind, original_name=Path(upload.name).name[:255], uploaded_by=actor, dry_run=dry_run)
    job.file.save(f"{uuid.uuid4().hex}{suffix}", upload, save=False)
    job.save()
    return job


def import_job_enqueue(job: ImportJob, *, queue: str | None = None) -> None:
    """Run the job in a worker once the current transaction commits."""
    from customers.tasks import import_file_run

    jobs.enqueue_on_commit(import_file_run, job.pk, queue=queue or getattr(settings, "CRM_IMPORT_QUEUE", None))


@transaction.atomic
def import_job_apply(*, actor, preview: ImportJob, queue: str | None = None) -> ImportJob:
    """Create (once) and enqueue the real import of a finished dry run's file."""
    if not can(actor, "customers.import_files"):
        raise NotPermitted()
    preview = ImportJob.objects.select_for_update().get(pk=preview.pk)
    if not preview.dry_run or preview.status != ImportStatus.DONE:
        raise Conflict(_("Only a finished preview can be applied."))
    existing = ImportJob.objects.filter(preview_of=preview).order_by("id").first()
    if existing is not None:  # a second click (or a retried request) does not import the file twice
        return existing
    if preview.files_removed_at is not None:
        raise Conflict(_("The file of this preview was deleted %(days)d days after the preview (it holds personal "
                         "data); upload it again.") % {"days": file_retention().days})
    job = ImportJob.objects.create(kind=preview.kind, original_name=preview.original_name, file=preview.file.name,
                                   uploaded_by=actor, dry_run=False, preview_of=preview,
                                   rows_total=preview.rows_total)
    import_job_enqueue(job, queue=queue)
    return job


class Progress(jobs.Heartbeat):
    """Writes a job's rows_done/rows_total, with its heartbeat, so that other connections see them at once (see
    the module docstring); the sweeper (``import_jobs_sweep``) fails jobs whose heartbeat stopped."""

    def __init__(self, job_id: int):
        super().__init__(ImportJob, job_id)
        self.job_id = job_id

    def __call__(self, rows_done: int, rows_total: int | None) -> None:
        super().__call__(rows_done=rows_done, rows_total=rows_total)


def import_job_run(job: ImportJob | int, *, now, size: int | None = None) -> ImportJob:
    """Run one import job to the end: file checks, the import (dry or real), result and rejects file."""
    job_id = job if isinstance(job, int) else job.pk
    if not jobs.try_lock(_LOCK_NAMESPACE, job_id):
        return ImportJob.objects.get(pk=job_id)  # another worker is running it right now
    progress = Progress(job_id)
    try:
        job = ImportJob.objects.select_related("uploaded_by").get(pk=job_id)
        if job.status in (ImportStatus.DONE, ImportStatus.FAILED):
            return job
        started = time.monotonic()
        job.status, job.started_at, job.finished_at, job.heartbeat_at = ImportStatus.RUNNING, now, None, now
        job.rows_done = job.created = job.updated = job.unchanged = job.rejected = 0
        job.errors_preview, job.warnings, job.error, job.changes_preview = [], [], "", {}
        job.save()
        try:
            _run(job, now=now, size=size or chunk_size(), progress=progress)
        except ValidationFailed as e:  # ImportFileError: the file as a whole cannot be imported
            job.status, job.error = ImportStatus.FAILED, str(e.message)
        except NotPermitted:
            job.status, job.error = ImportStatus.FAILED, _("%(user)s may no longer import files.") % {
                "user": job.uploaded_by}
        except InitialLoadFailed:
            logger.exception("import job %s failed", job.pk)
            job.status = ImportStatus.FAILED
            job.error = _("The first load into the empty customer table stopped at an unexpected error; it has "
                          "been logged. Nothing was written (a first load is all or nothing); importing the file "
                          "again is safe.")
        except Exception:
            logger.exception("import job %s failed", job.pk)
            job.status = ImportStatus.FAILED
            job.error = (_("The import stopped at an unexpected error after %(rows)d rows; it has been logged. "
                           "Rows before it were applied; importing the file again is safe.")
                         % {"rows": job.rows_done} if not job.dry_run else
                         _("The preview stopped at an unexpected error; it has been logged."))
        else:
            job.status = ImportStatus.DONE
        job.finished_at = now + timedelta(seconds=time.monotonic() - started)
        with transaction.atomic():
            job.save()
            notifications.import_finished(job)
        return job
    finally:
        progress.close()
        jobs.unlock(_LOCK_NAMESPACE, job_id)


def _run(job: ImportJob, *, now, size: int, progress: Progress) -> None:
    today = timezone.localdate(now)
    table = open_table(job.file.path, kind=job.kind, chunk_size=size)
    job.rows_total = table.rows_total
    job.warnings = list(table.warnings)
    job.save(update_fields=["rows_total", "warnings"])

    with tempfile.NamedTemporaryFile("w+", encoding="utf-8-sig", newline="", suffix=".csv") as rejects:
        result = import_file(job.file.path, kind=job.kind, actor=job.uploaded_by, today=today,
                             dry_run=job.dry_run, chunk_size=size, on_progress=progress,
                             rejects_out=rejects, table=table)
        rejects.flush()
        if result.rejected:
            with open(rejects.name, "rb") as f:
                job.rejects_file.save(f"job-{job.pk}-rejects.csv", File(f), save=False)
    job.rows_done = result.rows_done
    job.rows_total = result.rows_total
    job.created, job.updated, job.unchanged, job.rejected = (result.created, result.updated, result.unchanged,
                                                             result.rejected)
    job.errors_preview = result.errors
    job.warnings = result.warnings
    job.changes_preview = result.changes


def import_jobs_sweep(*, now) -> list[int]:
    """Mark failed, with the reason, the started jobs whose worker gave no sign of life (no heartbeat, see
    ``Progress``) for ``CRM_IMPORT_HEARTBEAT_TIMEOUT_MINUTES``: a worker killed, or its database connection
    lost, leaves its job "running"; this makes sure no job stays so forever. Run every few minutes by beat.
    Each job is marked by one conditional UPDATE, so a heartbeat arriving meanwhile wins. Returns the ids."""
    cutoff = now - heartbeat_timeout()
    started = Q(status__in=[ImportStatus.RUNNING, ImportStatus.PENDING], started_at__isnull=False)
    stale = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    failed = []
    for job in ImportJob.objects.filter(started & stale).order_by("id"):
        last = job.heartbeat_at or job.started_at
        reason = _("The worker stopped responding at %(time)s (no sign of life for %(minutes)d minutes): the job "
                   "was stopped.") % {"time": timezone.localtime(last).strftime("%Y-%m-%d %H:%M:%S"),
                                       "minutes": int(heartbeat_timeout().total_seconds() // 60)}
        reason += " " + (_("Upload the file again to check it.") if job.dry_run else
                         _("Rows before it may have been applied; importing the file again is safe."))
        if ImportJob.objects.filter(started & stale, pk=job.pk).update(
                status=ImportStatus.FAILED, error=reason, finished_at=now):
            logger.warning("import job %s: worker stopped responding at %s; marked failed", job.pk, last)
            failed.append(job.pk)
    return failed


def import_files_purge(*, now) -> dict:
    """Delete the uploaded files and rejected-rows files of jobs that finished over the retention period ago.

    They hold customers' personal data (ID numbers, mobiles, addresses: PIPL, DOMAIN.md), so they are kept only
    as long as it takes to check and apply an import (``CRM_IMPORT_FILE_RETENTION_DAYS``). The job rows stay:
    counts, the first rejected rows' keys and reasons, who and when. A file shared by a preview and the import
    that applied it goes once neither job needs it. Files under imports/ that no job refers to (an upload
    whose job was never saved, a job deleted in the admin) go after the same period. Safe to run twice: files
    are deleted before their job is marked, and deleting a missing file is no error.
    """
    cutoff = now - file_retention()
    finished = (ImportStatus.DONE, ImportStatus.FAILED)
    expired = ImportJob.objects.filter(status__in=finished, finished_at__lt=cutoff, files_removed_at__isnull=True)
    needed = set(ImportJob.objects.exclude(pk__in=expired.values("pk")).exclude(file="")
                 .values_list("file", flat=True))
    known = {name for pair in ImportJob.objects.values_list("file", "rejects_file") for name in pair if name}
    jobs = files = 0
    for job in expired.order_by("id").iterator(chunk_size=500):
        storage = job.file.storage
        for name in (job.file.name, job.rejects_file.name):
            if name and name not in needed and storage.exists(name):
                storage.delete(name)
                files += 1
        job.file, job.rejects_file, job.files_removed_at = "", "", now
        job.save(update_fields=["file", "rejects_file", "files_removed_at"])
        jobs += 1
    orphans = 0
    storage = ImportJob._meta.get_field("file").storage
    for name in _stored_files(storage, "imports"):
        if name not in known and storage.get_modified_time(name) < cutoff:
            storage.delete(name)
            orphans += 1
    return {"jobs": jobs, "files": files, "orphans": orphans}


def _stored_files(storage, directory: str):
    """Every file under ``directory`` of ``storage`` (names as FileField stores them)."""
    if not storage.exists(directory):
        return
    dirs, files = storage.listdir(directory)
    for f in files:
        yield f"{directory}/{f}"
    for d in dirs:
        yield from _stored_files(storage, f"{directory}/{d}")
