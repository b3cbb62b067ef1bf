"""Issue 9 items 3 and 4 for file imports: the dry run shows what would change; files are bounded while they are
read (hostile files: a false xlsx dimension, a zip bomb, a very long line, too many columns or rows); a job whose
worker died is marked failed by the sweeper; long echoed values are cut."""

import csv
import datetime as dt
import io
import shutil
import struct
import zipfile
from pathlib import Path

import openpyxl
import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from customers.ingest import jobs as import_jobs
from customers.ingest import xlsx
from customers.ingest.importer import import_file
from customers.ingest.limits import ImportFileError, Limits
from customers.models import Customer, CustomerChange, ImportJob, ImportStatus
from customers.tasks import import_jobs_sweep
from tests.customers.builders import make_resident_id

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english", "media")]

TODAY = dt.date(2026, 11, 22)




@pytest.fixture
def hq(world):
    client = Client()
    client.force_login(world.ho_user)
    return client


def write_csv(path: Path, header, rows):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *rows])
    path.write_bytes(buf.getvalue().encode())
    return path


def write_xlsx(path: Path, rows):
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def rewrite_zip(path: Path, change):
    """Rewrite an xlsx (a zip) with ``change(name, data) -> data`` applied to every member."""
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, change(info.filename, src.read(info.filename)))
    shutil.move(tmp, path)


def run(path, world, **kw):
    return import_file(path, kind="customers", actor=world.ho_user, today=TODAY, **kw)


# --------------------------------------------------------------------------------------------------
# Item 3: the preview shows what would change
# --------------------------------------------------------------------------------------------------
def test_dry_run_summarises_changes_per_field_masked_with_identity_changes_flagged(world, tmp_path):
    c, other = world.c_rm, world.customers["c_other"]
    Customer.objects.filter(pk=c.pk).update(mobile="13912345678", address="旧地址")
    Customer.objects.filter(pk=other.pk).update(address="旧地址二")
    path = write_csv(tmp_path / "c.csv", ["cif", "name", "mobile", "address", "branch"], [
        [c.cif, "", "13800001111", "新地址", ""],               # identity (mobile) + address
        [other.cif, "", "", "新地址二", "B1"],                  # address only (branch unchanged)
        ["NEW0001", "新客户", "13800002222", "", "B1"],          # created: not a change
        [world.customers["c_b2"].cif, "", "", "", ""],          # unchanged
    ])
    result = run(path, world, dry_run=True)
    assert (result.created, result.updated, result.unchanged) == (1, 2, 1)
    summary = result.changes
    assert summary["records"] == 2 and summary["identity_records"] == 1
    assert summary["fields"] == {"address": 2, "mobile": 1}
    first = summary["examples"][0]
    assert first["cif"] == c.cif and first["identity"] is True
    assert ["mobile", "139****5678", "138****1111"] in first["changes"]  # masked, old → new
    assert ["address", "旧地址", "新地址"] in first["changes"]
    assert [e["cif"] for e in summary["identity_examples"]] == [c.cif]
    # The dry run left nothing behind, history included.
    assert Customer.objects.get(pk=c.pk).mobile == "13912345678"
    assert not CustomerChange.objects.filter(created=False).exists()
    assert "13800001111" not in str(summary) and "13912345678" not in str(summary)


def test_preview_job_page_shows_the_changes(world, hq, tmp_path):
    c = world.c_rm
    id_number = make_resident_id(dt.date(1985, 3, 1))
    Customer.objects.filter(pk=c.pk).update(notes="x" * 300, birth_date=dt.date(1985, 3, 1), gender="M")
    content = (tmp_path / "c.csv")
    write_csv(content, ["cif", "name", "id_type", "id_number", "notes"],
              [[c.cif, "张伟", "resident_id", id_number, "y" * 500]])
    job = import_jobs.import_job_create(actor=world.ho_user, kind="customers",
                                        upload=SimpleUploadedFile("c.csv", content.read_bytes()))
    job = import_jobs.import_job_run(job, now=timezone.now())
    assert job.status == ImportStatus.DONE and job.changes_preview["identity_records"] == 1, job.errors_preview
    html = hq.get(reverse("customers:import-job", args=[job.pk])).content.decode()
    assert 'data-testid="changes-fields"' in html and 'data-testid="changes-identity"' in html
    assert id_number not in html and id_number[:6] + "********" + id_number[-4:] in html
    assert "张伟明" in html and "张伟" in html  # old → new name
    assert "y" * 200 not in html and "y" * 199 + "…" in html  # long values cut


# --------------------------------------------------------------------------------------------------
# Item 4: limits checked while reading
# --------------------------------------------------------------------------------------------------
def test_a_very_long_csv_line_is_refused_before_parsing(world, tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(b"cif,name\nA1,ok\nA2," + b"x" * 70_000 + b"\nA3,ok\n")
    with pytest.raises(ImportFileError, match="Line 3 is longer than 64 KB"):
        run(path, world, limits=Limits())
    path.write_bytes(b"cif,name\n" + b"y" * 200_000)  # no line break at all
    with pytest.raises(ImportFileError, match="Line 2 is longer"):
        run(path, world, limits=Limits())
    assert not Customer.objects.filter(cif__startswith="A").exists()


def test_too_many_columns_and_rows_are_refused(world, tmp_path, settings):
    path = write_csv(tmp_path / "c.csv", ["cif", *[f"x{i}" for i in range(300)]], [["A1", *[""] * 300]])
    with pytest.raises(ImportFileError, match="301 columns; at most 200"):
        run(path, world)
    settings.CRM_IMPORT_MAX_ROWS = 5
    path = write_csv(tmp_path / "r.csv", ["cif", "name"], [[f"R{i}", "n"] for i in range(6)])
    with pytest.raises(ImportFileError, match="more than 5 data rows"):
        run(path, world, chunk_size=2)
    path = write_xlsx(tmp_path / "r.xlsx", [["cif", "name"], *[[f"R{i}", "n"] for i in range(6)]])
    with pytest.raises(ImportFileError, match="more than 5 data rows"):
        run(path, world)
    path = write_xlsx(tmp_path / "w.xlsx", [["cif", *[f"x{i}" for i in range(300)]]])
    with pytest.raises(ImportFileError, match="columns; at most 200"):
        run(path, world)


def test_xlsx_dimension_tag_is_not_trusted(world, tmp_path):
    """A sheet claiming A1:XFD1048576 (16,384 × 1M cells, the padding a reader would build) is read as the three
    rows it holds; one claiming A1:B2 still has all of its rows read."""
    rows = [["cif", "name", "branch"], ["D1", "甲", "B1"], ["D2", "乙", "B1"], ["D3", "丙", "B1"]]
    path = write_xlsx(tmp_path / "d.xlsx", rows)
    rewrite_zip(path, lambda name, data: data.replace(b'<dimension ref="A1:C4" />', b'<dimension ref="A1:XFD1048576" />')
                if name.endswith("sheet1.xml") else data)
    with zipfile.ZipFile(path) as z:
        assert b"A1:XFD1048576" in z.read("xl/worksheets/sheet1.xml")
    result = run(path, world, dry_run=True, limits=Limits(cells=100))
    assert (result.rows_total, result.created) == (3, 3)
    rewrite_zip(path, lambda name, data: data.replace(b"A1:XFD1048576", b"A1:B2"))
    assert run(path, world, dry_run=True).created == 3


def test_real_xlsx_cell_count_is_limited(world, tmp_path):
    path = write_xlsx(tmp_path / "c.xlsx", [["cif", "name"], *[[f"E{i}", "n"] for i in range(10)]])
    rewrite_zip(path, lambda name, data: data.replace(b'<dimension ref="A1:B11" />', b'<dimension ref="A1:A1" />'))
    with pytest.raises(ImportFileError, match="more than 15 cells"):
        run(path, world, limits=Limits(cells=15))


def test_zip_bomb_is_refused(world, tmp_path):
    path = write_xlsx(tmp_path / "bomb.xlsx", [["cif", "name"], ["Z1", "n"]])
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/media/padding.bin", b"\0" * (3 << 20))  # 3 MB of zeros: a few KB compressed
    assert path.stat().st_size < 100_000
    with pytest.raises(ImportFileError, match="unpacks to more than 2 MB"):
        run(path, world, limits=Limits(unzipped_bytes=2 << 20))


def test_zip_that_lies_about_its_sizes_is_refused(world, tmp_path):
    """The sheet's directory entry claims 100 bytes: what is really read is counted (and zipfile's size and CRC
    checks stop the rest); the file is refused either way, nothing written."""
    path = write_xlsx(tmp_path / "lie.xlsx", [["cif", "name"], *[[f"L{i}", "n" * 50] for i in range(2000)]])
    data = bytearray(path.read_bytes())
    name = b"xl/worksheets/sheet1.xml"
    central = -1
    offset = data.find(b"PK\x01\x02")
    while offset != -1:  # each central-directory entry: patch the one of the sheet
        name_len = struct.unpack_from("<H", data, offset + 28)[0]
        if bytes(data[offset + 46:offset + 46 + name_len]) == name:
            struct.pack_into("<I", data, offset + 24, 100)  # uncompressed size
            central = offset
        offset = data.find(b"PK\x01\x02", offset + 4)
    assert central != -1
    path.write_bytes(bytes(data))
    with pytest.raises(ImportFileError, match="not a readable Excel|unpacks to more than"):
        run(path, world, limits=Limits(unzipped_bytes=60_000))
    assert not Customer.objects.filter(cif__startswith="L").exists()


def test_counting_zip_stops_past_the_limit(tmp_path):
    path = tmp_path / "z.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a", b"a" * 5000)
        z.writestr("b", b"b" * 5000)
    archive = xlsx._CountingZip(path, limit=8000)
    assert archive.read("a") == b"a" * 5000
    with pytest.raises(xlsx._UnpackedTooLarge):
        archive.read("b")


def test_limits_come_from_the_settings(settings):
    settings.CRM_IMPORT_MAX_ROWS, settings.CRM_IMPORT_MAX_LINE_KB = 7, 3
    settings.CRM_IMPORT_MAX_UNZIPPED_MB = 5
    limits = Limits.from_settings()
    assert (limits.rows, limits.line_bytes, limits.unzipped_bytes) == (7, 3072, 5 << 20)


def test_file_limit_errors_fail_the_job_with_the_message(world, hq, settings, monkeypatch,
                                                        django_capture_on_commit_callbacks):
    from customers.tasks import import_file_run

    monkeypatch.setattr("customers.tasks.import_file_run.apply_async", lambda args, queue=None: import_file_run.run(*args))
    settings.CRM_IMPORT_MAX_LINE_KB = 1
    with django_capture_on_commit_callbacks(execute=True):
        hq.post(reverse("customers:import"), {"kind": "customers", "file": SimpleUploadedFile(
            "c.csv", b"cif,name\nA1," + b"x" * 2000 + b"\n")})
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.FAILED and "第 2 行超过 1 KB" in job.error  # the user's language


# --------------------------------------------------------------------------------------------------
# Item 4: heartbeat and sweeper
# --------------------------------------------------------------------------------------------------
NOW = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)


def _job(world, **fields):
    job = import_jobs.import_job_create(actor=world.ho_user, kind="customers",
                                        upload=SimpleUploadedFile("c.csv", b"cif\nA\n"), dry_run=False)
    ImportJob.objects.filter(pk=job.pk).update(**fields)
    job.refresh_from_db()
    return job


def test_sweeper_fails_running_jobs_without_a_recent_heartbeat(world, settings):
    settings.CRM_IMPORT_HEARTBEAT_TIMEOUT_MINUTES = 10
    dead = _job(world, status=ImportStatus.RUNNING, started_at=NOW - dt.timedelta(hours=1),
                heartbeat_at=NOW - dt.timedelta(minutes=11), rows_done=40_000)
    never = _job(world, status=ImportStatus.RUNNING, started_at=NOW - dt.timedelta(minutes=30), heartbeat_at=None)
    alive = _job(world, status=ImportStatus.RUNNING, started_at=NOW - dt.timedelta(hours=1),
                 heartbeat_at=NOW - dt.timedelta(minutes=9))
    waiting = _job(world, status=ImportStatus.PENDING)  # not started: waiting for a worker
    done = _job(world, status=ImportStatus.DONE, started_at=NOW - dt.timedelta(hours=2),
                heartbeat_at=NOW - dt.timedelta(hours=2))
    with time_machine.travel(NOW, tick=False):
        assert import_jobs_sweep.run() == [dead.pk, never.pk]
    for job in (dead, never, alive, waiting, done):
        job.refresh_from_db()
    assert dead.status == ImportStatus.FAILED and dead.finished_at == NOW
    local = timezone.localtime(NOW - dt.timedelta(minutes=11)).strftime("%Y-%m-%d %H:%M:%S")
    assert f"The worker stopped responding at {local}" in dead.error and "importing the file again is safe" in dead.error
    assert never.status == ImportStatus.FAILED
    assert (alive.status, waiting.status, done.status) == (ImportStatus.RUNNING, ImportStatus.PENDING, ImportStatus.DONE)
    # A later sweep finds nothing more; the dead worker's job is not run again if its task is redelivered.
    with time_machine.travel(NOW + dt.timedelta(minutes=1), tick=False):
        assert import_jobs.import_jobs_sweep(now=timezone.now()) == []
    assert import_jobs.import_job_run(dead.pk, now=NOW).status == ImportStatus.FAILED


@pytest.mark.django_db(transaction=True)
def test_progress_is_a_heartbeat(world_tx):
    world = world_tx
    job = _job(world)
    with time_machine.travel(NOW, tick=False):
        import_jobs.Progress(job.pk)(5, 10)
    job.refresh_from_db()
    assert (job.rows_done, job.rows_total, job.heartbeat_at) == (5, 10, NOW)


def test_a_run_beats_from_its_start_and_with_every_chunk(world, monkeypatch):
    beats = []
    original = import_jobs.Progress.__call__

    def spy(self, done, total):
        original(self, done, total)
        beats.append(ImportJob.objects.values_list("heartbeat_at", flat=True).get(pk=self.job_id))

    monkeypatch.setattr(import_jobs.Progress, "__call__", spy)
    content = b"cif,name,branch\n" + b"".join(f"H{i},n,B1\n".encode() for i in range(5))
    job = import_jobs.import_job_create(actor=world.ho_user, kind="customers",
                                        upload=SimpleUploadedFile("c.csv", content), dry_run=True)
    with time_machine.travel(NOW, tick=False):
        job = import_jobs.import_job_run(job, now=NOW, size=2)
    assert job.status == ImportStatus.DONE and job.heartbeat_at == NOW and beats == [NOW] * 3


def test_sweeper_runs_every_five_minutes_from_a_beat_row(db):
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="customers.tasks.import_jobs_sweep")
    assert task.enabled and (task.crontab.hour, task.crontab.minute) == ("*", "*/5")


# --------------------------------------------------------------------------------------------------
# Item 4: long echoed values are cut
# --------------------------------------------------------------------------------------------------
def test_long_echoed_values_are_cut_on_the_job_page_and_in_the_rejects_file(world, hq):
    long_cif = "K" * 5000
    content = f"cif,name,branch,risk_level\n{long_cif},n,B1,\nK2,n,B1,{'Q' * 3000}\n".encode()
    job = import_jobs.import_job_create(actor=world.ho_user, kind="customers",
                                        upload=SimpleUploadedFile("c.csv", content), dry_run=True)
    job = import_jobs.import_job_run(job, now=NOW)
    assert job.rejected == 2
    for e in job.errors_preview:
        assert len(e["reason"]) <= 200 and all(len(v or "") <= 200 for v in e["key"].values())
    html = hq.get(reverse("customers:import-job", args=[job.pk])).content.decode()
    assert "K" * 201 not in html and "Q" * 201 not in html
    rejects = job.rejects_file.read().decode("utf-8-sig")
    for row in csv.reader(io.StringIO(rejects)):
        assert all(len(cell) <= 200 for cell in row[-1:])  # the reason


def test_the_import_page_documents_the_clear_marker(hq):
    html = hq.get(reverse("customers:import")).content.decode()
    assert "空单元格保留原值" in html and "&lt;clear&gt;" in html and "&lt;清空&gt;" in html  # the user's language


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_database_connection_died_is_failed_by_the_sweeper(world_tx, monkeypatch, settings):
    """The worker's connection is terminated in the middle of a run (as a database restart or a network cut would):
    the job cannot even record its failure and stays "running"; the sweeper marks it failed with the reason."""
    from django import db
    from django.db import connection, connections

    settings.CRM_IMPORT_HEARTBEAT_TIMEOUT_MINUTES = 10
    original = import_jobs.Progress.__call__
    calls = []

    def progress_then_cut(self, done, total):
        original(self, done, total)
        calls.append(done)
        if len(calls) == 1:
            killer = connections.create_connection("default")
            try:
                with killer.cursor() as cur:
                    cur.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
            finally:
                killer.close()

    monkeypatch.setattr(import_jobs.Progress, "__call__", progress_then_cut)
    content = b"cif,name,branch\n" + b"".join(f"X{i},n,B1\n".encode() for i in range(6))
    job = import_jobs.import_job_create(actor=world_tx.ho_user, kind="customers",
                                        upload=SimpleUploadedFile("c.csv", content), dry_run=False)
    with time_machine.travel(NOW, tick=False), pytest.raises(db.Error):  # OperationalError or InterfaceError
        import_jobs.import_job_run(job, now=NOW, size=2)
    connection.close()
    job.refresh_from_db()
    assert job.status == ImportStatus.RUNNING and job.heartbeat_at == NOW  # what the dead worker left
    with time_machine.travel(NOW + dt.timedelta(minutes=11), tick=False):
        assert import_jobs_sweep.run() == [job.pk]
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED and "stopped responding" in job.error
    html_client = Client()
    html_client.force_login(world_tx.ho_user)
    html = html_client.get(reverse("customers:import-job", args=[job.pk])).content.decode()
    assert 'data-testid="job-error"' in html and 'hx-trigger="every 1s"' not in html  # the page stops polling
