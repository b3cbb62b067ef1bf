"""Celery tasks of the customers app: thin, taking ids, calling one service, safe to run twice."""

from celery import shared_task
from django.utils import timezone

from .ingest import jobs as import_jobs


@shared_task(acks_late=True)
def import_file_run(job_id: int) -> dict:
    """Run an uploaded import (dry run or real); a finished job is not run again."""
    job = import_jobs.import_job_run(job_id, now=timezone.now())
    return {"job": job.pk, "status": job.status, "rows_done": job.rows_done, "created": job.created,
            "updated": job.updated, "unchanged": job.unchanged, "rejected": job.rejected}


@shared_task
def import_files_purge() -> dict:
    """Nightly: delete import files (personal data) kept past CRM_IMPORT_FILE_RETENTION_DAYS."""
    return import_jobs.import_files_purge(now=timezone.now())


@shared_task
def import_jobs_sweep() -> list[int]:
    """Every few minutes: started import jobs whose worker stopped responding are marked failed with the reason."""
    return import_jobs.import_jobs_sweep(now=timezone.now())
