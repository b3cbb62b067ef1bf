"""File import jobs run by a real Celery worker through Redis: preview, apply, and a repeated delivery."""

import csv
import io

from django.core.files.uploadedfile import SimpleUploadedFile

from customers.ingest import jobs as import_jobs
from customers.models import Customer, CustomerChange, ImportJob, ImportStatus
from customers.tasks import import_file_run


def _upload(rows):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([["客户号", "客户名称", "所属机构", "客户经理", "手机号"], *rows])
    return SimpleUploadedFile("客户.csv", buf.getvalue().encode("gbk"), content_type="text/csv")


def test_worker_previews_then_applies_an_import(celery_worker, org_world):
    rows = [[f"W{i:05d}", f"客户{i}", "B1", "rm", f"139{i:08d}"] for i in range(1, 251)]
    rows.append(["WBAD", "坏号码", "B1", "rm", "12345"])
    preview = import_jobs.import_job_create(actor=org_world.ho_user, kind="customers", upload=_upload(rows))
    created_jobs = [preview]
    try:
        summary = import_file_run.apply_async((preview.pk,), queue=celery_worker).get(timeout=120)
        assert summary["status"] == ImportStatus.DONE
        assert (summary["created"], summary["rejected"], summary["rows_done"]) == (250, 1, 251)
        assert not Customer.objects.filter(cif__startswith="W").exists()  # a dry run stores nothing

        job = import_jobs.import_job_apply(actor=org_world.ho_user, preview=preview, queue=celery_worker)
        created_jobs.append(job)
        # A second delivery of the same job queues behind the first on the solo worker, then finds it done.
        again = import_file_run.apply_async((job.pk,), queue=celery_worker).get(timeout=120)
        assert again == {"job": job.pk, "status": ImportStatus.DONE, "rows_done": 251, "created": 250,
                         "updated": 0, "unchanged": 0, "rejected": 1}
        job.refresh_from_db()
        assert job.rows_total == 251 and job.started_at and job.finished_at >= job.started_at
        assert job.errors_preview[0]["line"] == 252 and job.errors_preview[0]["field"] == "mobile"
        assert job.rejects_file.read().decode("utf-8-sig").splitlines()[1].startswith("WBAD,坏号码,B1,rm,12345,252,mobile,")
        assert Customer.objects.filter(cif__startswith="W").count() == 250
        assert Customer.objects.get(cif="W00001").name == "客户1"
        assert CustomerChange.objects.filter(customer__cif__startswith="W").count() == 250  # applied once
    finally:
        for j in ImportJob.objects.filter(pk__in=[j.pk for j in created_jobs]):
            if j.rejects_file:
                j.rejects_file.delete(save=False)
        preview.file.delete(save=False)
